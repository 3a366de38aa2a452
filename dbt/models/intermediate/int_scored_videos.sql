-- Catalogue videos with at least one counted event, joined to their catalogue, creator and
-- moderation state. score_log2 = log2(hotScore(now)) + now/half_life
-- = log2(decayed_mass) + anchor/half_life orders videos exactly by score at any `now`, even
-- where hotScore itself underflows to 0; it is null when the mass is 0 (only zero-weight
-- events count, e.g. 0 s watches): such videos rank after every positive one.
-- Videos not (yet) in the catalogue, or with nothing counted, are left out.
{%- set half_life = "cast(" ~ (var('half_life_hours') * 3600) ~ " as " ~ type_double() ~ ")" %}

select
    v.video_id,
    v.title,
    v.thumbnail_url,
    v.creator_id,
    c.creator_name,
    c.avatar_url,
    coalesce(m.moderation_status, 'undecided') as moderation_status,
    s.anchor_epoch,
    s.decayed_mass,
    s.likes_mass,
    s.comments_mass,
    s.watch_mass,
    s.shares_mass,
    case
        when s.decayed_mass > 0
            then {{ log2('s.decayed_mass') }} + s.anchor_epoch / {{ half_life }}
    end as score_log2,
    s.likes,
    s.comments,
    s.shares,
    s.watch_sec,
    s.counted_events,
    -- a held ring (SPEC §3b): not in the feed, in the review queue with this reason
    case when h.video_id is not null then 'coordinated_engagement' end as hold_reason,
    h.ring_accounts,
    h.ring_accounts_sample,
    h.ring_window_start,
    h.ring_window_end
from {{ ref('int_video_scores') }} as s
inner join {{ ref('int_latest_videos') }} as v on s.video_id = v.video_id
left join {{ ref('int_latest_creators') }} as c on v.creator_id = c.creator_id
left join {{ ref('int_latest_moderation') }} as m on v.video_id = m.video_id
left join {{ ref('int_ring_holds') }} as h on v.video_id = h.video_id and h.is_held
where s.counted_events > 0
