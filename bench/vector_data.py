"""Data for the vector store benchmarks: generated sentences over a fixed vocabulary, and a
labelled set (questions whose answer chunk is known) written for Docket and dedicated to
the public domain."""

import random

WORDS = [
    "river",
    "mountain",
    "city",
    "harbour",
    "market",
    "engine",
    "garden",
    "library",
    "winter",
    "summer",
    "forest",
    "valley",
    "bridge",
    "tower",
    "castle",
    "village",
    "ocean",
    "island",
    "desert",
    "storm",
    "thunder",
    "lantern",
    "mirror",
    "candle",
    "merchant",
    "sailor",
    "farmer",
    "doctor",
    "teacher",
    "soldier",
    "painter",
    "poet",
    "king",
    "queen",
    "bishop",
    "knight",
    "copper",
    "silver",
    "iron",
    "wheat",
    "barley",
    "apple",
    "honey",
    "salt",
    "wool",
    "timber",
    "coal",
    "glass",
    "paper",
    "ink",
]

# (question, answer chunk): the answer shares few exact words with the question.
LABELLED = [
    (
        "Why do volcanoes erupt?",
        "Magma and hot gas rise through the crust until the mountain bursts open.",
    ),
    (
        "How is bread made?",
        "The baker kneads dough, lets it rise and bakes the loaves in a hot oven.",
    ),
    (
        "Who won the football match?",
        "The striker scored twice and the home team beat the visitors.",
    ),
    ("What can telescopes show?", "Through the lens one sees distant galaxies, stars and planets."),
    (
        "How are infections cured?",
        "Doctors prescribe antibiotics that kill the bacteria in a patient.",
    ),
    (
        "How do bees make honey?",
        "Bees gather nectar from flowers and store it in wax combs in the hive.",
    ),
    ("Why does it rain?", "Water vapour cools in the clouds, condenses into drops and falls."),
    (
        "How do ships stay afloat?",
        "A hull displaces water whose weight equals the weight of the vessel.",
    ),
    (
        "What do farmers grow?",
        "Fields of wheat, barley and maize are sown in spring and harvested.",
    ),
    (
        "How is glass made?",
        "Sand is melted in a furnace with soda and lime, then shaped while hot.",
    ),
    (
        "Why do leaves fall in autumn?",
        "Trees stop feeding their foliage as days shorten and it drops.",
    ),
    ("How do birds migrate?", "Flocks fly south for the winter, guided by the sun and the stars."),
]


def sentences(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=12)) + "." for _ in range(count)]
