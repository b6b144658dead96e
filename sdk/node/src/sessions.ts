import {
  failed,
  isObject,
  malformed,
  readArray,
  readBoolean,
  readNumber,
  readString,
  type Transport,
} from './http.js';
import type {
  ErrorResponse,
  ListSessionsResponse,
  ProtektSession,
  RevokeAllSessionsParams,
  RevokeAllSessionsResponse,
} from './types.js';

/**
 * `protekt.sessions`: the sessions of the user whose access token you pass. A user can only see
 * and end their own sessions.
 */
export class SessionsClient {
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /** List the live sessions of the access token's user, newest first. */
  async list(accessToken: string): Promise<ListSessionsResponse> {
    const result = await this.#transport.request({
      method: 'GET',
      path: '/v1/sessions',
      accessToken,
    });
    if (result.error) return failed<ListSessionsResponse>(['sessions'], result.error);
    const sessions = readArray(result.data, 'sessions', 'sessions.list').map((session, i) => {
      const context = `sessions.list (sessions[${i}])`;
      if (!isObject(session)) throw malformed(`${context} is not an object`);
      readString(session, 'id', context);
      readBoolean(session, 'current', context);
      return session as unknown as ProtektSession;
    });
    return { sessions, error: null };
  }

  /**
   * End one of the user's sessions. A session id that is unknown or belongs to another user
   * gives `not_found`.
   */
  async revoke(sessionId: string, accessToken: string): Promise<ErrorResponse> {
    const result = await this.#transport.request({
      method: 'DELETE',
      path: '/v1/sessions',
      id: { value: sessionId, field: 'sessionId' },
      accessToken,
    });
    return { error: result.error };
  }

  /**
   * End all the user's sessions, or all but the current one (`keepCurrent: true`). Returns how
   * many were ended.
   */
  async revokeAll(
    accessToken: string,
    params?: RevokeAllSessionsParams,
  ): Promise<RevokeAllSessionsResponse> {
    const p: RevokeAllSessionsParams = isObject(params) ? params : {};
    const result = await this.#transport.request({
      path: '/v1/sessions/revoke-all',
      body: { keepCurrent: p.keepCurrent },
      accessToken,
    });
    if (result.error) return failed<RevokeAllSessionsResponse>(['revokedCount'], result.error);
    return {
      revokedCount: readNumber(result.data, 'revokedCount', 'sessions.revokeAll'),
      error: null,
    };
  }
}
