-- Throttling (SECURITY L1-L3): the state of the limiter's database backend, which nodes on
-- PostgreSQL without Redis share. GCRA: `tat` is the theoretical arrival time of the next hit,
-- in milliseconds; once it has passed the row means nothing and cleanup removes it.
create table rate_limit (
    key text primary key,
    tat bigint not null
);
create index rate_limit_tat on rate_limit (tat);
