package mappings

// This file holds every SQL statement the package runs, grouped by the
// table each writes or, for a read, reads first; the functions in the other
// files run them by name. A statement with a part put together at run time
// keeps its fixed parts here and its assembly beside the function that runs it.

// flow_drafts: each flow's one editable draft.

// draftGetSelect reads flow_drafts for DraftGet.
const draftGetSelect = `select definition, revision, updated_by_email, updated_at from flow_drafts where flow_id = $1`

// draftSaveUpdate updates flow_drafts for DraftSave.
const draftSaveUpdate = `
		update flow_drafts set definition = $3, revision = revision + 1, updated_by = $4, updated_by_email = $5, updated_at = now()
		where flow_id = $1 and revision = $2
		returning revision, updated_by_email, updated_at`

// draftInsert inserts into flow_drafts for FlowCreate.
const draftInsert = `insert into flow_drafts (flow_id, definition, updated_by, updated_by_email) values ($1, $2, $3, $4)`

// draftLock reads flow_drafts for Publish.
const draftLock = `select definition, revision from flow_drafts where flow_id = $1 for update`

// flow_versions: published versions, immutable once written.

// versionListSelect reads flow_versions for VersionList.
const versionListSelect = `
		select flow_id, number, checksum, note, author_email, created_at from flow_versions
		where flow_id = $1 order by number desc`

// versionGetSelect reads flow_versions for VersionGet.
const versionGetSelect = `
		select flow_id, number, checksum, note, author_email, created_at, definition from flow_versions
		where flow_id = $1 and number = $2`

// latestVersionSelect reads flow_versions for Publish.
const latestVersionSelect = `select number, checksum from flow_versions where flow_id = $1 order by number desc limit 1`

// versionInsert inserts into flow_versions for Publish.
const versionInsert = `
		insert into flow_versions (flow_id, number, definition, checksum, note, author_id, author_email)
		values ($1, $2, $3, $4, $5, $6, $7) returning created_at`

// flows: the flows and who owns them.

// flowSlugSelect reads flows for DraftSave.
const flowSlugSelect = `select slug from flows where id = $1`

// flowSelect is the select list and joins of a Flow; append the WHERE
// clause.
const flowSelect = `
	select f.id, f.slug, f.name, f.description, f.source_system, f.owner_id, coalesce(u.email, ''),
	       f.created_at, f.updated_at,
	       coalesce((select max(number) from flow_versions v where v.flow_id = f.id), 0),
	       d.revision, d.updated_at, d.updated_by_email
	from flows f
	join flow_drafts d on d.flow_id = f.id
	left join users u on u.id = f.owner_id`

// flowInsert inserts into flows for FlowCreate.
const flowInsert = `
		insert into flows (slug, name, description, source_system, owner_id) values ($1, $2, $3, $4, $5)
		returning id`

// flowByIDSelect reads flows for FlowByID.
const flowByIDSelect = flowSelect + ` where f.id = $1`

// flowBySlugSelect reads flows for FlowBySlug.
const flowBySlugSelect = flowSelect + ` where f.slug = $1`

// flowListSelect reads flows for FlowList.
const flowListSelect = flowSelect + ` where ($1 = '' or f.slug ilike '%' || $1 || '%' or f.name ilike '%' || $1 || '%' or f.description ilike '%' || $1 || '%')
		and ($2 = '' or f.source_system = $2)
		order by greatest(f.updated_at, d.updated_at) desc, f.slug`

// sourceSystemsSelect reads flows for SourceSystems.
const sourceSystemsSelect = `select distinct source_system from flows where source_system <> '' order by 1`

// flowTouch updates flows for Publish: the flows list shows the source
// system of the latest published version.
const flowTouch = `update flows set updated_at = now(), source_system = $2 where id = $1`

// storedFormSelect passes a definition through jsonb, as storing it does,
// for StoredForm.
const storedFormSelect = `select $1::jsonb`
