import heapq

tasks = []
heapq.heappush(tasks, (2, "write tests"))
heapq.heappush(tasks, (1, "fix bug"))
heapq.heappush(tasks, (3, "update docs"))
while tasks:
    priority, title = heapq.heappop(tasks)
    print(priority, title)
