-- Passwordless sign-in (magic links, one-time passcodes by email, SMS and WhatsApp).
--
-- Phone-only users exist, so app_user.email becomes nullable and users gain a phone. SQLite
-- cannot drop a NOT NULL, so the table is rebuilt the documented way (create, copy, drop,
-- rename). This needs foreign keys off, or dropping the old table would cascade into every
-- session, factor and token of every user: `Store::migrate` runs SQLite migrations on a
-- connection with them off (the pragma cannot change inside the transaction each migration
-- runs in) and checks them all afterwards.

create table app_user_new (
    id               text primary key,
    project_id       text not null references project(id) on delete cascade,
    email            text,
    email_normalized text,
    email_verified   integer not null default 0,
    phone            text,
    phone_verified   integer not null default 0,
    password_hash    text,
    metadata         text not null,
    disabled         integer not null default 0,
    created_at       integer not null,
    updated_at       integer not null,
    last_login_at    integer
);
insert into app_user_new (id, project_id, email, email_normalized, email_verified, password_hash,
                          metadata, disabled, created_at, updated_at, last_login_at)
    select id, project_id, email, email_normalized, email_verified, password_hash,
           metadata, disabled, created_at, updated_at, last_login_at from app_user;
drop table app_user;
alter table app_user_new rename to app_user;
-- NULLs are distinct in a unique index: any number of phone-only users, one per address.
create unique index app_user_email on app_user(project_id, email_normalized);
create unique index app_user_phone on app_user(project_id, phone);
create index app_user_created on app_user(project_id, created_at, id);
create index app_user_id_prefix on app_user(project_id, id);

-- One row per passwordless send: a magic link (link_hash, and the code printed in the same
-- email), a one-time passcode (code_hash only), or the short-lived token a confirmed magic link
-- hands to the app (purpose 'exchange'). Bound to the identifier it went to (a normalised email
-- or an E.164 number), not to a user: an unknown identifier may become a user on first verify.
-- link_hash is SHA-256 of the 256-bit token; code_hash an HMAC of the code keyed per row.
create table passwordless_code (
    id              text primary key,
    project_id      text not null references project(id) on delete cascade,
    purpose         text not null,
    channel         text not null,
    identifier      text not null,
    link_hash       text unique,
    code_hash       text,
    redirect_url    text,
    attempts        integer not null default 0,
    created_at      integer not null,
    expires_at      integer not null,
    code_expires_at integer,
    used_at         integer
);
create index passwordless_code_identifier on passwordless_code(project_id, identifier, created_at);
create index passwordless_code_expires on passwordless_code(expires_at);

-- The dev outbox shows the code an email carries (sealed like the link, erased once sent).
alter table email_outbox add column code text;
