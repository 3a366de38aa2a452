{{ config(meta={"dagster": {"ref": {"name": "fct_review_queue"}}}) }}
-- fct_review_queue holds only videos that are not in the feed and would rank in the top N
-- (a video held for a ring stands in the queue whatever its would-be rank).
select q.video_id, q.would_be_rank
from {{ ref('fct_review_queue') }} as q
left join {{ ref('fct_hot_feed') }} as f on q.video_id = f.video_id
where f.video_id is not null
   or (q.would_be_rank > {{ var('top_n') }} and q.queue_reason <> 'coordinated_engagement')
   or q.would_be_rank < 1
