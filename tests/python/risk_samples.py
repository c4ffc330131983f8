"""Code samples the default policy classifies at each level with the heuristics
assessor (the same samples as tests/e2e/pipeline_test.cc)."""

LOW = "print('Hello, World!')\n"
MEDIUM = (
    "import subprocess\nsubprocess.run(['true'])\nsubprocess.run(['true'])\nprint('medium')\n"
)
HIGH = (
    "import ctypes\nimport pickle\ntry:\n    print(open('/etc/shadow').read())\n"
    "except OSError:\n    print('no shadow')\nprint(pickle.loads(pickle.dumps(1)))\n"
)
BLOCKED = "import os\nos.system('rm -rf /tmp/nothing-here')\nprint('ran anyway')\n"
