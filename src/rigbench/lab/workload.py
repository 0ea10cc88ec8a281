"""The lab's two kinds of work, as prompts.

*Grounded* work edits, extracts from or summarises a text given in the prompt (a passage
of the bundled public-domain novel, or a small Python module): the answer repeats spans
of the prompt, which is where n-gram lookup can draft. *Open* work writes new prose or
code: nothing in the prompt to copy. Each kind has four tasks; repeat *r* asks task
*r* mod 4, so the repeats cover them all, and the baseline and the technique get the same
prompt in each pair.

At a depth above 0 the task follows that many tokens of background text (the novel, cut
to exact token counts by ``ContextText``), so depth means what it means everywhere else:
tokens already in the context. Prompts are chat messages, or plain completions for a
model without a chat template of its own (``quality.prompts.build_ask``, as the quality
pass does).
"""

from __future__ import annotations

from dataclasses import dataclass

from rigbench.quality.prompts import Ask, Mode, build_ask
from rigbench.workload.text import corpus_slice

__all__ = ["TASKS", "WORKS", "Task", "lab_ask", "task_for"]

WORKS = ("grounded", "open")

_MODULE = '''def load_orders(path):
    orders = []
    with open(path) as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) < 3:
                continue
            orders.append({"id": fields[0], "customer": fields[1], "total": float(fields[2])})
    return orders


def total_by_customer(orders):
    totals = {}
    for order in orders:
        totals[order["customer"]] = totals.get(order["customer"], 0.0) + order["total"]
    return totals


def top_customers(orders, n=3):
    totals = total_by_customer(orders)
    return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:n]
'''

_CLASS = '''class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, quantity, price):
        if name in self.items:
            self.items[name]["quantity"] += quantity
        else:
            self.items[name] = {"quantity": quantity, "price": price}

    def remove(self, name, quantity):
        if name not in self.items:
            raise KeyError(name)
        self.items[name]["quantity"] -= quantity
        if self.items[name]["quantity"] <= 0:
            del self.items[name]

    def value(self):
        return sum(item["quantity"] * item["price"] for item in self.items.values())
'''


@dataclass(frozen=True)
class Task:
    id: str
    work: str  # grounded | open
    category: str  # code | prose (code answers start inside a ```python fence in completion mode)
    text: str


def _passage(offset: int) -> str:
    text = corpus_slice(1000, offset)
    return text[: text.rfind(".") + 1] if "." in text else text


TASKS: dict[str, tuple[Task, ...]] = {
    "grounded": (
        Task("edit-passage", "grounded", "prose",
             "Correct the spelling in this passage and return it in full.\n\n" + _passage(30_000)),
        Task("rename-function", "grounded", "code",
             "Rename the function `load_orders` to `read_orders` everywhere in this Python module and return "
             "the whole module.\n\n```python\n" + _MODULE + "```"),
        Task("extract-dialogue", "grounded", "prose",
             "Quote, word for word, every line of dialogue in this passage.\n\n" + _passage(61_000)),
        Task("add-type-hints", "grounded", "code",
             "Add type hints to every method of this Python class and return the whole class.\n\n```python\n"
             + _CLASS + "```"),
    ),
    "open": (
        Task("bank-account", "open", "code",
             "Write a Python class for a bank account with deposit, withdraw and a transaction history."),
        Task("letter", "open", "prose", "Write a letter to a friend describing your new job in a bakery."),
        Task("word-count", "open", "code",
             "Write a Python script that counts the words in a text file and prints the ten most common."),
        Task("speech", "open", "prose", "Write a short speech for a school graduation about curiosity."),
    ),
}


def task_for(work: str, rep: int) -> Task:
    tasks = TASKS[work]
    return tasks[rep % len(tasks)]


@dataclass(frozen=True)
class _Prompt:  # what quality.prompts.build_ask reads from a suite prompt
    prompt: str
    max_tokens: int
    category: str
    primer: str | None = None


def lab_ask(task: Task, mode: Mode, *, background: str = "", max_tokens: int) -> Ask:
    """The request for one task, after ``background`` (the depth's context text) if any."""
    content = task.text
    if background:
        content = f"Background reading:\n\n{background}\n\n---\n\n{task.text}"
    return build_ask(_Prompt(content, max_tokens, task.category), mode)
