-- Passwordless sign-in (magic links, one-time passcodes by email, SMS and WhatsApp). See the
-- SQLite migration of the same number for the reasoning; PostgreSQL alters in place.
alter table app_user alter column email drop not null;
alter table app_user alter column email_normalized drop not null;
alter table app_user add column phone text;
alter table app_user add column phone_verified bigint not null default 0;
create unique index app_user_phone on app_user(project_id, phone);

create table passwordless_code (
    id              text primary key,
    project_id      text not null references project(id) on delete cascade,
    purpose         text not null,
    channel         text not null,
    identifier      text not null,
    link_hash       text unique,
    code_hash       text,
    redirect_url    text,
    attempts        bigint not null default 0,
    created_at      bigint not null,
    expires_at      bigint not null,
    code_expires_at bigint,
    used_at         bigint
);
create index passwordless_code_identifier on passwordless_code(project_id, identifier, created_at);
create index passwordless_code_expires on passwordless_code(expires_at);

alter table email_outbox add column code text;
