"""What queries mean: fan-out across backends, merge-following, paging, people, writes."""
