import codecs

hidden = "vzcbeg bf; bf.flfgrz('jubnzv')"
exec(codecs.decode(hidden, "rot_13"))
