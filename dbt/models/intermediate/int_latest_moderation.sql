-- The moderation decision in force per video: the greatest (decided_at, batch_id, line_no).
with ranked as (
    select
        video_id,
        moderation_status,
        decided_at,
        moderation_reason,
        batch_id,
        row_number() over (
            partition by video_id
            order by decided_at desc, batch_id desc, line_no desc
        ) as decision_rank
    from {{ ref('stg_moderation') }}
)

select
    video_id,
    moderation_status,
    decided_at,
    moderation_reason,
    batch_id
from ranked
where decision_rank = 1
