-- Account lifecycle: listing users, one-time tokens (email verification, password reset),
-- management tokens, the email outbox, audit events, rate counters and job leases.

-- Users are listed oldest-first by (created_at, id); search is an email prefix (a range scan of
-- the unique (project_id, email_normalized) index) or an id prefix (a range scan of
-- (project_id, id)). Each page reads `limit` index entries whatever the number of users.
create index app_user_created on app_user(project_id, created_at, id);
create index app_user_id_prefix on app_user(project_id, id);

create index session_expiry on session(expires_at);
create index revoked_token_expiry on revoked_token(expires_at);

-- Single-use tokens sent by email. Only the SHA-256 of the token is stored; `email` is the
-- address it was sent to, so changing the email voids it.
create table one_time_token (
    id           text primary key,
    project_id   text not null references project(id) on delete cascade,
    user_id      text not null references app_user(id) on delete cascade,
    purpose      text not null,
    token_hash   text not null unique,
    email        text not null,
    redirect_url text,
    created_at   integer not null,
    expires_at   integer not null,
    used_at      integer
);
create index one_time_token_user on one_time_token(project_id, user_id, purpose);
create index one_time_token_expiry on one_time_token(expires_at);

-- Management tokens (mt_…) authorize the projects API. Stored as SHA-256.
create table management_token (
    id          text primary key,
    name        text not null,
    token_hash  text not null unique,
    created_at  integer not null,
    revoked_at  integer
);

-- Emails waiting for delivery or delivered recently. Written in the transaction that creates
-- the token they carry; a worker delivers them with retries.
create table email_outbox (
    id              text primary key,
    project_id      text not null references project(id) on delete cascade,
    kind            text not null,
    recipient       text not null,
    subject         text not null,
    text_body       text not null,
    html_body       text not null,
    link            text,
    attempts        integer not null default 0,
    next_attempt_at integer not null,
    sent_at         integer,
    failed_at       integer,
    last_error      text,
    created_at      integer not null
);
create index email_outbox_due on email_outbox(sent_at, failed_at, next_attempt_at);

-- Security-relevant events (SECURITY AU1). No secrets in detail.
create table audit_event (
    id          text primary key,
    project_id  text,
    created_at  integer not null,
    kind        text not null,
    result      text not null,
    actor       text,
    subject     text,
    ip          text,
    user_agent  text,
    detail      text not null
);
create index audit_event_project on audit_event(project_id, created_at);

-- Fixed-window counters for send quotas (SECURITY L7), shared by every node.
create table rate_counter (
    key          text primary key,
    window_start integer not null,
    count        integer not null
);

-- Background jobs take a lease so only one node runs each.
create table job_lease (
    name        text primary key,
    holder      text not null,
    expires_at  integer not null
);
