-- The creator catalogue as it is now: per creator_id the upsert with the greatest (batch_id, line_no).
with ranked as (
    select
        creator_id,
        creator_name,
        avatar_url,
        batch_id,
        row_number() over (
            partition by creator_id
            order by batch_id desc, line_no desc
        ) as version_rank
    from {{ ref('stg_creators') }}
)

select
    creator_id,
    creator_name,
    avatar_url,
    batch_id
from ranked
where version_rank = 1
