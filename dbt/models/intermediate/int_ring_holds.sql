-- Videos held for coordinated engagement (SPEC §3b): a ring (int_ring_videos) holds its video
-- from the ring's last join time (ring_window_end, event time) until a moderator decides after it: an
-- approval releases the video, a takedown (removed, restricted) takes it down; a decision
-- taken before the hold, or pending_review, leaves it held. Grain = video_id, rings only.
select
    r.video_id,
    r.ring_accounts,
    r.ring_events,
    r.counted_likes_shares,
    r.ring_accounts_sample,
    {{ to_timestamp_from_epoch('r.ring_start_us / 1000000.0') }} as ring_window_start,
    {{ to_timestamp_from_epoch('r.ring_end_us / 1000000.0') }} as ring_window_end,
    coalesce(m.moderation_status, 'undecided') as moderation_status,
    m.decided_at,
    case
        when m.moderation_status in ('removed', 'restricted') then false
        when m.moderation_status = 'approved'
            and {{ epoch_seconds('m.decided_at') }} * 1000000 > r.ring_end_us then false
        else true
    end as is_held
from {{ ref('int_ring_videos') }} as r
left join {{ ref('int_latest_moderation') }} as m on r.video_id = m.video_id
where r.is_ring
