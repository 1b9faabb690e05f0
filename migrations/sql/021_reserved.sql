-- Number 21 is reserved for the per-key ordering migration, developed on
-- another branch at the same time; the migration runner needs numbers
-- without gaps. Whichever branch merges second replaces this file with
-- that migration.
select 1;
