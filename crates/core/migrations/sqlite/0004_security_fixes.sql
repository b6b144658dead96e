-- Fixes from the security review (issue 8).

-- Management tokens expire, can be listed and revoked, and may be scoped to one project
-- (project_id null: every project).
alter table management_token add column expires_at integer;
alter table management_token add column project_id text references project(id) on delete cascade;
alter table management_token add column last_used_at integer;
-- Tokens made before tokens expired get the default lifetime, counted from their creation.
update management_token set expires_at = created_at + 7776000000 where expires_at is null;

-- Consecutive wrong second-factor codes per user (SECURITY M3, L1). Each attempt is counted
-- before its code is checked and a success resets the row, so concurrent guesses cannot slip
-- past the back-off; `blocked_until` is when the next attempt may come. After 100 consecutive
-- failures (`locked_at`) only a backup code, or an operator, can unlock the factors.
create table mfa_guard (
    project_id    text not null references project(id) on delete cascade,
    user_id       text not null references app_user(id) on delete cascade,
    failures      integer not null default 0,
    blocked_until integer not null default 0,
    locked_at     integer,
    primary key (project_id, user_id)
);

-- Rate counters used to name phone numbers and email addresses in clear; they are keyed by an
-- HMAC now (M8). Dropping them only restarts the current windows.
delete from rate_counter where key like 'sms:%' or key like 'send:%';

-- The first factor a login challenge follows (its `amr`), so the session names it: passwords
-- today, other methods next.
alter table mfa_challenge add column first_factor text;
