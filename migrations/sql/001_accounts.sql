-- Accounts, browser sessions, sign-in throttling and the audit log: what every
-- other capability stands on.

create table users (
    id             bigint generated always as identity primary key,
    email          text not null,
    name           text not null default '',
    password_hash  text not null,
    role           text not null check (role in ('admin', 'analyst', 'approver', 'support', 'viewer')),
    active         boolean not null default true,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    last_login_at  timestamptz
);
-- Emails compare case-insensitively: Ana@Shop.example and ana@shop.example are one person.
create unique index users_email_key on users (lower(email));

-- scs v2 pgxstore's table, name and columns fixed by that package.
create table sessions (
    token  text primary key,
    data   bytea not null,
    expiry timestamptz not null
);
create index sessions_expiry_idx on sessions (expiry);

-- Failed and successful sign-ins; throttling counts recent failures per account
-- and per address, so it holds across every serve process.
create table login_attempts (
    id         bigint generated always as identity primary key,
    email      text not null,
    address    text not null,
    succeeded  boolean not null,
    at         timestamptz not null default now()
);
create index login_attempts_email_idx on login_attempts (lower(email), at desc);
create index login_attempts_address_idx on login_attempts (address, at desc);

create table audit_entries (
    id           bigint generated always as identity primary key,
    at           timestamptz not null default now(),
    actor_id     bigint references users (id) on delete set null,
    actor_email  text not null default '',
    action       text not null,
    target_type  text not null default '',
    target_id    text not null default '',
    before       jsonb,
    after        jsonb,
    request_id   text not null default '',
    address      text not null default ''
);
create index audit_entries_at_idx on audit_entries (at desc, id desc);
create index audit_entries_action_idx on audit_entries (action, at desc);
create index audit_entries_actor_idx on audit_entries (actor_id, at desc);
