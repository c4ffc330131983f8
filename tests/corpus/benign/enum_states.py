from enum import Enum, auto


class State(Enum):
    IDLE = auto()
    RUNNING = auto()
    DONE = auto()


TRANSITIONS = {State.IDLE: State.RUNNING, State.RUNNING: State.DONE}

state = State.IDLE
while state in TRANSITIONS:
    print("from", state.name, "to", TRANSITIONS[state].name)
    state = TRANSITIONS[state]
