"""Maximum bipartite matching (Hopcroft-Karp), for matching expected calls in any order."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


def hopcroft_karp(adjacency: Sequence[Sequence[int]], n_right: int) -> dict[int, int]:
    """Maximum matching of left vertices 0..n-1 to right vertices; returns {left: right}."""
    inf = len(adjacency) + 1
    match_left: list[int] = [-1] * len(adjacency)
    match_right: list[int] = [-1] * n_right
    # Greedy start: most problems are nearly solved by it.
    for left, edges in enumerate(adjacency):
        for right in edges:
            if match_right[right] == -1:
                match_left[left], match_right[right] = right, left
                break
    while True:
        dist = [inf] * len(adjacency)
        queue: deque[int] = deque()
        for left in range(len(adjacency)):
            if match_left[left] == -1:
                dist[left] = 0
                queue.append(left)
        found = False
        while queue:
            left = queue.popleft()
            for right in adjacency[left]:
                other = match_right[right]
                if other == -1:
                    found = True
                elif dist[other] == inf:
                    dist[other] = dist[left] + 1
                    queue.append(other)
        if not found:
            break
        for start in range(len(adjacency)):
            if match_left[start] == -1:
                _augment(start, adjacency, match_left, match_right, dist, inf)
    return {left: right for left, right in enumerate(match_left) if right != -1}


def _augment(
    start: int,
    adjacency: Sequence[Sequence[int]],
    match_left: list[int],
    match_right: list[int],
    dist: list[int],
    inf: int,
) -> bool:
    """Iterative DFS along the BFS layers (no recursion limit on long chains)."""
    stack: list[tuple[int, int]] = [(start, 0)]
    path: list[tuple[int, int]] = []
    while stack:
        left, edge = stack[-1]
        edges = adjacency[left]
        if edge >= len(edges):
            dist[left] = inf
            stack.pop()
            if path:
                path.pop()
            continue
        stack[-1] = (left, edge + 1)
        right = edges[edge]
        other = match_right[right]
        if other == -1:
            path.append((left, right))
            for lv, rv in path:
                match_left[lv], match_right[rv] = rv, lv
            return True
        if dist[other] == dist[left] + 1:
            path.append((left, right))
            stack.append((other, 0))
    return False
