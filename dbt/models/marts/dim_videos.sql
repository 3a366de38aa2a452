-- The video catalogue as it is now, with its creator and moderation state. Grain = video_id.
select
    v.video_id,
    v.title,
    v.thumbnail_url,
    v.creator_id,
    v.published_at,
    c.creator_name,
    c.avatar_url,
    coalesce(m.moderation_status, 'undecided') as moderation_status,
    m.decided_at,
    m.moderation_reason,
    case when m.moderation_status = 'approved' then true else false end as is_eligible
from {{ ref('int_latest_videos') }} as v
left join {{ ref('int_latest_creators') }} as c on v.creator_id = c.creator_id
left join {{ ref('int_latest_moderation') }} as m on v.video_id = m.video_id
