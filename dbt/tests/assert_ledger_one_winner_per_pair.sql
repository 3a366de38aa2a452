{{ config(tags=['full_scan']) }}
-- int_counted_events: every (video, user, like|share) key that has ledger rows has exactly one
-- counted winner (its +1/-1 rows net to 1), and every event nets to 0 (displaced) or 1.
select 'pair' as level, video_id, user_id, event_type, cast(null as {{ dbt.type_string() }}) as event_id,
       sum(sign) as net_sign
from {{ ref('int_counted_events') }}
where event_type in ('like', 'share')
group by video_id, user_id, event_type
having sum(sign) <> 1

union all

select 'event' as level, video_id, user_id, event_type, event_id, sum(sign) as net_sign
from {{ ref('int_counted_events') }}
group by video_id, user_id, event_type, event_id
having sum(sign) not in (0, 1)
