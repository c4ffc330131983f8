import textwrap

paragraph = (
    "Python is a programming language that lets you work quickly and integrate "
    "systems more effectively. It is used for scripting, data science and the web."
)
print(textwrap.fill(paragraph, width=40))
print(textwrap.shorten(paragraph, width=50, placeholder="..."))
