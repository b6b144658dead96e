-- Foundation schema (PostgreSQL). Conventions shared with migrations/sqlite:
-- ids are prefixed random strings (text), times are unix milliseconds (bigint),
-- flags are 0/1 bigints, JSON is text. Every row below `project` carries project_id.

create table project (
    id          text primary key,
    login_id    text not null unique,
    name        text not null,
    settings    text not null,
    created_at  bigint not null,
    updated_at  bigint not null
);

-- API keys are stored as SHA-256 hex of the whole key; `prefix` is what lists may show.
create table api_key (
    id          text primary key,
    project_id  text not null references project(id) on delete cascade,
    key_hash    text not null unique,
    prefix      text not null,
    created_at  bigint not null,
    revoked_at  bigint
);
create index api_key_project on api_key(project_id);

-- JWT signing keys. `id` is the JWT `kid`; the private key is AES-256-GCM sealed with the
-- master key (AAD = kid). The current key has retired_at null; retired keys stay published.
create table signing_key (
    id          text primary key,
    project_id  text not null references project(id) on delete cascade,
    alg         text not null,
    private_key text not null,
    public_jwk  text not null,
    created_at  bigint not null,
    retired_at  bigint
);
create index signing_key_project on signing_key(project_id);

-- `user` is reserved in PostgreSQL, hence app_user. email_normalized is the lowercased email,
-- filled in Rust, and carries the per-project uniqueness. (PostgreSQL: byte-wise "C" collation,
-- so that prefix searches are plain index range scans.)
create table app_user (
    id               text primary key,
    project_id       text not null references project(id) on delete cascade,
    email            text not null,
    email_normalized text collate "C" not null,
    email_verified   bigint not null default 0,
    password_hash    text,
    metadata         text not null,
    disabled         bigint not null default 0,
    created_at       bigint not null,
    updated_at       bigint not null,
    last_login_at    bigint
);
create unique index app_user_email on app_user(project_id, email_normalized);

create table session (
    id             text primary key,
    project_id     text not null references project(id) on delete cascade,
    user_id        text not null references app_user(id) on delete cascade,
    amr            text not null,
    aal            text not null,
    ip             text,
    user_agent     text,
    created_at     bigint not null,
    last_active_at bigint not null,
    expires_at     bigint not null,
    ended_at       bigint
);
create index session_by_user on session(project_id, user_id);

-- Refresh tokens: only SHA-256 of the token is stored. used_at is set when the token is rotated.
create table refresh_token (
    id          text primary key,
    project_id  text not null references project(id) on delete cascade,
    session_id  text not null references session(id) on delete cascade,
    token_hash  text not null unique,
    used_at     bigint,
    created_at  bigint not null,
    expires_at  bigint not null
);
create index refresh_token_session on refresh_token(session_id);

-- Access tokens revoked one by one (by jti) before their expiry.
create table revoked_token (
    jti         text primary key,
    project_id  text not null references project(id) on delete cascade,
    session_id  text not null references session(id) on delete cascade,
    expires_at  bigint not null
);
create index revoked_token_session on revoked_token(session_id);
