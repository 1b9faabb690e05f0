-- The explorer finds a message by a word or number in its payload, by its
-- beginning, the way people say it: "2014" finds the order "#2014" (and
-- "#002014"), "ana" or "silva" finds "Ana.Silva@example.com", "silv" finds
-- "Silva".
--
-- message_search_terms breaks the payload values of message_values (the
-- strings and numbers at the top level and one object down) into words —
-- runs of letters and digits, lower-cased — and adds each number without
-- its leading zeros; the explorer asks with a prefix query of the same
-- words (insight.searchTerms). Values are cut at 256 characters: these are
-- identifiers, names and addresses, not documents.
create function message_search_terms(vals jsonb) returns tsvector
    language sql immutable strict parallel safe
    return (
        select coalesce(to_tsvector('simple', string_agg(w, ' ')), ''::tsvector)
        from (
            select lower(t) as w
            from jsonb_array_elements_text(vals) as e(v), regexp_split_to_table(left(v, 256), '[^[:alnum:]]+') as t
            where t <> ''
            union all
            select ltrim(t, '0')
            from jsonb_array_elements_text(vals) as e(v), regexp_split_to_table(left(v, 256), '[^[:alnum:]]+') as t
            where t ~ '^0+[0-9]*[1-9][0-9]*$'
        ) as words
    );

-- Written by PostgreSQL with each row of message_values (processing
-- inserts them), so every writer and the seed get it alike.
alter table message_values
    add column terms tsvector generated always as (message_search_terms(payload_values)) stored;

-- The small pending list of 008 and 013, for the same reason: merges stay
-- short under load.
set local maintenance_work_mem = '256MB';
create index message_values_terms_idx on message_values using gin (terms)
    with (gin_pending_list_limit = 512);

analyze message_values;
