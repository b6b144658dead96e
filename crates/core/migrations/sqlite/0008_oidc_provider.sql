-- Protekt as an OpenID Connect provider (issue 14).

-- A project's OAuth clients. Secrets (confidential clients) are 256-bit and stored as SHA-256;
-- a rotated one keeps working until previous_secret_expires_at.
create table oauth_client (
    id                  text primary key,
    project_id          text not null references project(id) on delete cascade,
    name                text not null,
    kind                text not null,
    redirect_uris       text not null,
    post_logout_redirect_uris text not null,
    grant_types         text not null,
    scopes              text not null,
    first_party         integer not null,
    auth_method         text not null,
    jwks                text,
    secret_hash         text,
    previous_secret_hash text,
    previous_secret_expires_at integer,
    created_at          integer not null,
    updated_at          integer not null
);
create index oauth_client_project on oauth_client(project_id);

-- A user's consent to a third-party client, for these scopes (space separated).
create table oauth_grant (
    project_id  text not null references project(id) on delete cascade,
    user_id     text not null references app_user(id) on delete cascade,
    client_id   text not null references oauth_client(id) on delete cascade,
    scopes      text not null,
    created_at  integer not null,
    primary key (user_id, client_id)
);

-- `jti`s of client assertions (private_key_jwt) until they expire: a replay is refused.
create table client_assertion (
    client_id   text not null references oauth_client(id) on delete cascade,
    jti         text not null,
    expires_at  integer not null,
    primary key (client_id, jti)
);
create index client_assertion_expires on client_assertion(expires_at);

-- Device authorization requests (RFC 8628). The device code is stored as SHA-256; the user
-- code (8 letters, typed by a person) as an HMAC under a master-derived key.
create table device_code (
    id             text primary key,
    project_id     text not null references project(id) on delete cascade,
    client_id      text not null references oauth_client(id) on delete cascade,
    device_hash    text not null unique,
    user_code_hash text not null unique,
    scope          text not null,
    -- pending, approved, denied, used
    status         text not null,
    session_id     text references session(id) on delete cascade,
    last_polled_at integer,
    created_at     integer not null,
    expires_at     integer not null
);
create index device_code_expires on device_code(expires_at);

-- Client-credentials (M2M) access tokens revoked before their expiry.
create table revoked_client_token (
    jti         text primary key,
    project_id  text not null references project(id) on delete cascade,
    client_id   text not null references oauth_client(id) on delete cascade,
    expires_at  integer not null
);
create index revoked_client_token_expires on revoked_client_token(expires_at);

-- Tokens handed to an OAuth client carry it: a refresh token works only for its client, and the
-- scope it was granted.
alter table refresh_token add column client_id text;
alter table refresh_token add column scope text;

-- An authorization request of a client, carried by the sign-in flow and its code.
alter table login_flow add column client_id text;
alter table login_flow add column scope text;
alter table login_flow add column nonce text;
-- The flow returns to a hosted page (the device page) rather than handing a code to an app.
alter table login_flow add column hosted_return integer not null default 0;
alter table auth_code add column client_id text;
alter table auth_code add column scope text;
alter table auth_code add column nonce text;
