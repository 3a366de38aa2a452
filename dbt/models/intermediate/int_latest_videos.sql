-- The video catalogue as it is now: per video_id the upsert with the greatest (batch_id, line_no).
with ranked as (
    select
        video_id,
        title,
        thumbnail_url,
        creator_id,
        published_at,
        batch_id,
        row_number() over (
            partition by video_id
            order by batch_id desc, line_no desc
        ) as version_rank
    from {{ ref('stg_videos') }}
)

select
    video_id,
    title,
    thumbnail_url,
    creator_id,
    published_at,
    batch_id
from ranked
where version_rank = 1
