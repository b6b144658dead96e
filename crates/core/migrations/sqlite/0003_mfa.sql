-- Multi-factor authentication: factors (TOTP, SMS), login challenges and backup codes.

-- One factor per method and user. `secret` (TOTP seed) and `phone` are AES-256-GCM sealed with
-- the master key, bound to the factor id. A factor counts only once confirmed. TOTP codes are
-- accepted once: `last_used_step` only moves forward.
create table mfa_factor (
    id             text primary key,
    project_id     text not null references project(id) on delete cascade,
    user_id        text not null references app_user(id) on delete cascade,
    method         text not null,
    secret         text,
    phone          text,
    phone_hint     text,
    confirmed_at   integer,
    last_used_step integer not null default 0,
    created_at     integer not null
);
create unique index mfa_factor_user_method on mfa_factor(project_id, user_id, method);

-- A second-factor challenge: after a password login (`mfa_token`), or while an SMS factor is
-- being enrolled. Only the SHA-256 of the token and a keyed hash of the SMS code are stored.
create table mfa_challenge (
    id            text primary key,
    project_id    text not null references project(id) on delete cascade,
    user_id       text not null references app_user(id) on delete cascade,
    purpose       text not null,
    token_hash    text unique,
    sms_code_hash text,
    failures      integer not null default 0,
    ip            text,
    user_agent    text,
    created_at    integer not null,
    expires_at    integer not null,
    used_at       integer
);
create index mfa_challenge_user on mfa_challenge(project_id, user_id);
create index mfa_challenge_expiry on mfa_challenge(expires_at);

-- Backup codes: 120-bit random, stored as SHA-256, single use; a new set replaces the old.
create table backup_code (
    id          text primary key,
    project_id  text not null references project(id) on delete cascade,
    user_id     text not null references app_user(id) on delete cascade,
    code_hash   text not null unique,
    created_at  integer not null,
    used_at     integer
);
create index backup_code_user on backup_code(project_id, user_id);
