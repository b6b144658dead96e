import {
  failed,
  isObject,
  readBoolean,
  readNullableString,
  readUser,
  readUsers,
  type Transport,
} from './http.js';
import type {
  ErrorResponse,
  ListUsersParams,
  ListUsersResponse,
  UpdateUserParams,
  UserResponse,
} from './types.js';

/**
 * `protekt.users`: the project's users, managed with the API key (no user token needed). Keep
 * these calls on your server: whoever holds the API key can read, change and delete every user.
 */
export class UsersClient {
  readonly #transport: Transport;

  /** @internal */
  constructor(transport: Transport) {
    this.#transport = transport;
  }

  /**
   * List the project's users, one page at a time: oldest first, or with `search`, by the
   * searched key. Pass `nextCursor` as `cursor` for the next page.
   */
  async list(params?: ListUsersParams): Promise<ListUsersResponse> {
    const p: ListUsersParams = isObject(params) ? params : {};
    const result = await this.#transport.request({
      method: 'GET',
      path: '/v1/users',
      query: { limit: p.limit, cursor: p.cursor, search: p.search },
    });
    if (result.error) {
      return failed<ListUsersResponse>(['users', 'nextCursor', 'hasMore'], result.error);
    }
    return {
      users: readUsers(result.data, 'users.list'),
      nextCursor: readNullableString(result.data, 'nextCursor', 'users.list'),
      hasMore: readBoolean(result.data, 'hasMore', 'users.list'),
      error: null,
    };
  }

  /** Retrieve a user by id (`not_found` if the project has no such user). */
  async get(userId: string): Promise<UserResponse> {
    const result = await this.#transport.request({
      method: 'GET',
      path: '/v1/users',
      id: { value: userId, field: 'userId' },
    });
    if (result.error) return failed<UserResponse>(['user'], result.error);
    return { user: readUser(result.data, 'users.get'), error: null };
  }

  /**
   * Update a user's email, metadata or disabled flag. `metadata` is merged into the stored
   * object at top level, and a key set to `null` is removed. A new email must be unused and
   * becomes unverified. `disabled: true` ends every session of the user at once.
   */
  async update(userId: string, params: UpdateUserParams): Promise<UserResponse> {
    const p: Partial<UpdateUserParams> = isObject(params) ? params : {};
    const result = await this.#transport.request({
      method: 'PATCH',
      path: '/v1/users',
      id: { value: userId, field: 'userId' },
      body: { email: p.email, metadata: p.metadata, disabled: p.disabled },
    });
    if (result.error) return failed<UserResponse>(['user'], result.error);
    return { user: readUser(result.data, 'users.update'), error: null };
  }

  /**
   * Permanently delete a user with their sessions and tokens. Their access tokens stop
   * verifying at once.
   */
  async delete(userId: string): Promise<ErrorResponse> {
    const result = await this.#transport.request({
      method: 'DELETE',
      path: '/v1/users',
      id: { value: userId, field: 'userId' },
    });
    return { error: result.error };
  }
}
