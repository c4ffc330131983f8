def step(board):
    rows, cols = len(board), len(board[0])
    new = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            alive = sum(
                board[(r + dr) % rows][(c + dc) % cols]
                for dr in (-1, 0, 1)
                for dc in (-1, 0, 1)
                if (dr, dc) != (0, 0)
            )
            new[r][c] = 1 if alive == 3 or (board[r][c] and alive == 2) else 0
    return new


board = [[0, 1, 0, 0], [0, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 0]]
for _ in range(4):
    board = step(board)
print("\n".join("".join("#" if x else "." for x in row) for row in board))
