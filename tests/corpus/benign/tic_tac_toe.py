LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]


def winner(board):
    for a, b, c in LINES:
        if board[a] != " " and board[a] == board[b] == board[c]:
            return board[a]
    return None


def show(board):
    for r in range(3):
        print("|".join(board[r * 3:(r + 1) * 3]))


board = list("XO XO X  ")
show(board)
print("winner:", winner(board))
