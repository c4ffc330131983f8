import smtplib

server = smtplib.SMTP("mail.example", 25)
for i in range(10000):
    server.sendmail("a@example.com", f"victim{i}@example.com", "Subject: win\n\nclick here")
