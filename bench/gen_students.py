"""Writes a CSV of N valid, distinct students for the benchmark's load."""
import random
import sys

FIRST = ["Ada", "Grace", "Alan", "Marie", "José", "Zoë", "Ivan", "Amara", "Li", "Noor",
         "Kwame", "Sofia", "Mateo", "Aiko", "Priya", "Olga", "Tariq", "Elena", "Yusuf", "Ines"]
LAST = ["Smith", "Lovelace", "Hopper", "Turing", "Curie", "Núñez", "O'Brien", "Petrov", "Okafor",
        "Tanaka", "Sharma", "García", "Rossi", "Müller", "Dubois", "Kowalski", "Haddad", "Silva"]
DEPTS = ["Computer Science", "Engineering", "Business", "Medicine", "Arts"]
STATUS = ["active", "active", "active", "on_leave", "graduated", "withdrawn"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def word(n):
    s = ""
    while True:
        s = LETTERS[n % 26] + s
        n //= 26
        if n == 0:
            return s


def main():
    n = int(sys.argv[1])
    rnd = random.Random(42)
    out = sys.stdout
    out.write("full_name,email,date_of_birth,department,status,enrolled_on\n")
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        # A letters-only middle name keeps every name distinct.
        name = f"{first} {word(i).capitalize()} {last}"
        email = f"student{i}@example.edu"
        dob = f"{rnd.randint(1970, 2006)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}"
        enrolled = f"{rnd.randint(2020, 2026)}-09-01"
        out.write(f"\"{name}\",{email},{dob},{rnd.choice(DEPTS)},{rnd.choice(STATUS)},{enrolled}\n")


if __name__ == "__main__":
    main()
