class VendingMachine:
    PRICES = {"cola": 150, "chips": 100, "candy": 75}

    def __init__(self):
        self.credit = 0

    def insert(self, cents):
        self.credit += cents

    def buy(self, item):
        price = self.PRICES.get(item)
        if price is None:
            return f"unknown item {item}"
        if self.credit < price:
            return f"need {price - self.credit} more cents"
        self.credit -= price
        change, self.credit = self.credit, 0
        return f"enjoy your {item}, change {change}"


vm = VendingMachine()
vm.insert(100)
print(vm.buy("cola"))
vm.insert(100)
print(vm.buy("cola"))
