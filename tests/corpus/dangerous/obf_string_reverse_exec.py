cmd = ")'di'(metsys.so;so tropmi"
exec(cmd[::-1])
