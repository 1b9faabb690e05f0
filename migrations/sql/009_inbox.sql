-- The exception inbox: groups kept up to date by a trigger (so the grouped
-- view reads one row per group instead of grouping a million exceptions on
-- every page view), comments, message revisions made by replays, and bulk
-- actions with their progress.

-- One row per environment and fingerprint (flow + stage + error class).
-- open_count counts the exceptions that are open or assigned.
create table exception_groups (
    id             bigint generated always as identity primary key,
    environment_id bigint not null references environments (id),
    fingerprint    text not null,
    kind           text not null,
    flow_id        bigint not null references flows (id),
    stage          text not null,
    error_class    text not null,
    sample_message text not null,
    total_count    bigint not null default 0,
    open_count     bigint not null default 0,
    first_seen     timestamptz not null,
    last_seen      timestamptz not null,
    unique (environment_id, fingerprint)
);
create index exception_groups_open_idx on exception_groups (last_seen desc, id desc) where open_count > 0;
create index exception_groups_all_idx on exception_groups (last_seen desc, id desc);

-- Keyset pagination of the flat inbox (newest first) for its filters: the
-- default view (open or assigned) walks the partial indexes, a single
-- status the (…, status, id desc) ones, so a page reads about one page of
-- index entries however many exceptions there are.
create index exceptions_active_id_idx on exceptions (id desc) where status in ('open', 'assigned');
create index exceptions_active_env_idx on exceptions (environment_id, id desc) where status in ('open', 'assigned');
create index exceptions_active_group_idx on exceptions (environment_id, fingerprint, id desc) where status in ('open', 'assigned');
create index exceptions_active_flow_idx on exceptions (flow_id, id desc) where status in ('open', 'assigned');
create index exceptions_status_id_idx on exceptions (status, id desc);
create index exceptions_env_status_id_idx on exceptions (environment_id, status, id desc);
create index exceptions_assignee_idx on exceptions (assigned_to, status, id desc) where assigned_to is not null;

-- exception_groups_track keeps exception_groups in step with exceptions in
-- the same transaction. An exception whose fingerprint changes (a re-raise
-- with another error class) leaves its old group and joins the new one.
create function exception_groups_track() returns trigger language plpgsql as $$
declare
    was_open boolean := false;
    is_open  boolean := false;
    moved    boolean := false;
begin
    if tg_op in ('UPDATE', 'DELETE') then
        was_open := old.status in ('open', 'assigned');
    end if;
    if tg_op in ('INSERT', 'UPDATE') then
        is_open := new.status in ('open', 'assigned');
    end if;
    if tg_op = 'UPDATE' then
        moved := old.fingerprint <> new.fingerprint or old.environment_id <> new.environment_id;
    end if;
    if tg_op = 'DELETE' or moved then
        update exception_groups
           set total_count = total_count - 1,
               open_count = open_count - (case when was_open then 1 else 0 end)
         where environment_id = old.environment_id and fingerprint = old.fingerprint;
    end if;
    if tg_op = 'INSERT' or moved then
        insert into exception_groups as g (environment_id, fingerprint, kind, flow_id, stage, error_class, sample_message,
                                           total_count, open_count, first_seen, last_seen)
        values (new.environment_id, new.fingerprint, new.kind, new.flow_id, new.stage, new.error_class, new.message,
                1, case when is_open then 1 else 0 end, new.updated_at, new.updated_at)
        on conflict (environment_id, fingerprint) do update
            set total_count = g.total_count + 1,
                open_count = g.open_count + case when is_open then 1 else 0 end,
                sample_message = excluded.sample_message,
                last_seen = greatest(g.last_seen, excluded.last_seen);
    elsif tg_op = 'UPDATE' and (was_open is distinct from is_open or new.updated_at is distinct from old.updated_at) then
        update exception_groups
           set open_count = open_count + (case when is_open then 1 else 0 end) - (case when was_open then 1 else 0 end),
               last_seen = case when is_open and new.updated_at > last_seen then new.updated_at else last_seen end
         where environment_id = new.environment_id and fingerprint = new.fingerprint;
    end if;
    return null;
end
$$;

create trigger exception_groups_track after insert or update of status, updated_at, fingerprint or delete on exceptions
    for each row execute function exception_groups_track();

-- Groups for exceptions filed before this migration.
insert into exception_groups (environment_id, fingerprint, kind, flow_id, stage, error_class, sample_message,
                              total_count, open_count, first_seen, last_seen)
select distinct on (environment_id, fingerprint) environment_id, fingerprint, kind, flow_id, stage, error_class, message,
       count(*) over w, count(*) filter (where status in ('open', 'assigned')) over w,
       min(created_at) over w, max(updated_at) over w
from exceptions
window w as (partition by environment_id, fingerprint)
order by environment_id, fingerprint, id desc;

-- Notes people leave on an exception.
create table exception_comments (
    id           bigint generated always as identity primary key,
    exception_id bigint not null references exceptions (id) on delete cascade,
    author_id    bigint references users (id) on delete set null,
    author_email text not null,
    body         text not null check (length(body) between 1 and 10000),
    created_at   timestamptz not null default now()
);
create index exception_comments_exception_idx on exception_comments (exception_id, id);

-- A replay makes a new message; this row links it to the message it
-- replays, with who made it and, when the payload was edited, the diff.
create table message_revisions (
    message_id     uuid primary key references messages (id) on delete cascade,
    original_id    uuid not null references messages (id) on delete cascade,
    revision       integer not null check (revision > 0),
    version_number integer not null,
    edited         boolean not null default false,
    diff           text not null default '',
    reason         text not null default '',
    created_by     text not null,
    created_at     timestamptz not null default now(),
    unique (original_id, revision)
);

-- An action on many exceptions at once, worked by a River job that records
-- its progress here. request_key makes a second click of the same form (or
-- a second request for the same whole group while one runs) find the first.
create table bulk_actions (
    id              bigint generated always as identity primary key,
    request_key     text not null unique,
    action          text not null check (action in ('retry', 'resolve', 'ignore', 'replay')),
    environment_id  bigint references environments (id),
    fingerprint     text,
    exception_ids   bigint[],
    up_to_id        bigint not null,
    reason          text not null default '',
    version_choice  text not null default '',
    requested_by_id bigint references users (id) on delete set null,
    requested_by    text not null,
    status          text not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
    total           integer not null default 0,
    done            integer not null default 0,
    skipped         integer not null default 0,
    failed          integer not null default 0,
    last_id         bigint not null default 0,
    error           text not null default '',
    created_at      timestamptz not null default now(),
    finished_at     timestamptz
);
create unique index bulk_actions_group_running_key on bulk_actions (environment_id, fingerprint, action)
    where status in ('queued', 'running') and fingerprint is not null;
