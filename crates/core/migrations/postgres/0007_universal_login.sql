-- Universal Login (hosted sign-in pages).
--
-- A browser session is a session whose secret sits in a cookie on Protekt's origin, stored
-- here as SHA-256: ending the session by any API ends the browser's sign-in too.
alter table session add column browser_hash text;
create unique index session_browser on session(browser_hash);

-- A sign-in under way in one browser: the form carries its id, a cookie its binding secret
-- (SHA-256 here). Where it ends is checked when it starts.
create table login_flow (
    id             text primary key,
    project_id     text not null references project(id) on delete cascade,
    binding_hash   text not null,
    redirect_url   text not null,
    state          text,
    code_challenge text,
    -- While the second factor is asked for: the MFA token, sealed (AAD: the flow id).
    mfa_token      text,
    -- While an emailed code is awaited: the address, and for a sign-up the new password's
    -- argon2 hash.
    pending_email  text,
    pending_password_hash text,
    created_at     bigint not null,
    expires_at     bigint not null
);
create index login_flow_expires on login_flow(expires_at);

-- One-time codes that hand a signed-in session to an app (POST /v1/auth/exchange): SHA-256 of
-- the 256-bit code, bound to its redirect URL and PKCE challenge; 60 seconds, single use.
create table auth_code (
    id             text primary key,
    project_id     text not null references project(id) on delete cascade,
    code_hash      text not null unique,
    session_id     text not null references session(id) on delete cascade,
    redirect_url   text not null,
    code_challenge text,
    created_at     bigint not null,
    expires_at     bigint not null,
    used_at        bigint
);
create index auth_code_expires on auth_code(expires_at);
