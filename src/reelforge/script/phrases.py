"""The ``template`` writer's phrase banks: role-specific sentence templates (main sentences, optional
extras, one-liners for tiny budgets) and picture descriptions. ``template.py`` fills them from a ``Topic``.
"""

from __future__ import annotations

# ---- sentence banks ------------------------------------------------------------------------------
# Slots: {topic} (after "about"), {subject} (a noun phrase), {kw} / {kw2} (keywords), {question}.
# Capitalised slot names ({Topic}) capitalise the value. Keywords and subjects only ever appear as
# objects, so no verb has to agree with them. Flags before "|": q = only for questions, p = only for a
# plural-looking single keyword, f = a closing remark that goes last in its scene, 1 = only as the first
# sentence of a scene, w = not when the topic is a yes/no question ("whether dogs can see colors").

HOOK = (
    "Ever stopped to wonder about {topic}?",
    "Let's take a closer look at {topic}.",
    "Today, we're exploring {topic}.",
    "In the next few moments, we'll unpack {topic}.",
    "q|{question}",
    "q|Here's a question worth a minute of your time: {question}",
    "There is more to {subject} than most people realize.",
    "It's easy to overlook {subject}, but there is a fascinating story here.",
    "What's really going on with {subject}?",
    "Let's find out what makes {subject} so remarkable.",
)
HOOK_EXTRA = (
    "qf|Let's find out.",
    "q|The answer is more interesting than you might expect.",
    "q|It's a simple question with a surprisingly rich answer.",
    "It looks simple at first glance, but a lot is happening beneath the surface.",
    "By the end, you'll see {subject} in a whole new light.",
    "f|Let's start at the beginning.",
    "Stay with me, because the details are worth it.",
    "Once you know what to look for, you'll start noticing it everywhere.",
    "The story is richer than it first appears.",
)
CONTEXT = (
    "1|First, a little background on {subject}.",
    "1|To make sense of {topic}, it helps to start with the basics.",
    "1|Before we dive in, let's set the scene with {kw}.",
    "1|Every story has a starting point, and this one begins with {kw}.",
    "1|Some context helps here, so let's start with {kw}.",
    "People have been curious about {subject} for a very long time.",
    "To understand the bigger picture, we need to talk about {kw}.",
)
CONTEXT_EXTRA = (
    "A few simple ideas do most of the heavy lifting.",
    "Those ideas build on each other, one step at a time.",
    "The details may seem small at first, but they add up quickly.",
    "f|Keep that picture in mind as we go.",
    "With that foundation in place, the rest starts to make sense.",
    "It all starts with something surprisingly ordinary.",
    "Knowing the setting makes the next part much easier to grasp.",
    "Nothing here happens in isolation.",
    "That backdrop shapes everything that comes next.",
    "Much of what follows grows out of this starting point.",
    "It's worth knowing where all of this comes from.",
    "The background explains more than you might expect.",
)
POINT = (
    "Now let's focus on {kw}.",
    "A big part of the story is {kw}.",
    "1|Here's the key idea: so much revolves around {kw}.",
    "Pay close attention to {kw}, because this is where things start to change.",
    "Look closely at {kw}, and a clear pattern starts to emerge.",
    "The role of {kw} is easy to miss, yet it matters a great deal.",
    "The connection between {kw} and {kw2} is where things get interesting.",
    "Here's something that surprises many people about {kw}: small details make a big difference.",
    "Think of {kw} as one piece of a larger puzzle.",
    "Many explanations begin with {kw}, and for good reason.",
    "It's worth slowing down here, because what happens with {kw} shapes everything that follows.",
    "Next, consider the place of {kw} in the bigger picture.",
    "Without {kw}, the whole picture would look very different.",
    "1|If there's one thing to remember, it's the importance of {kw}.",
)
POINT_EXTRA = (
    "Each step builds on the one before it.",
    "It's a simple idea, but it explains a lot.",
    "Once you see it, it's hard to unsee.",
    "Small changes here ripple outward in surprising ways.",
    "This is the part most people never think about.",
    "Keep this in mind, because it comes up again.",
    "The details are what make it remarkable.",
    "That balance is more delicate than it looks.",
    "It's a good example of how simple rules can produce complex results.",
    "Timing matters here as much as anything else.",
    "None of this happens by accident.",
    "And it all happens more quickly than you might think.",
    "It only works because several things line up at once.",
    "Step back, and the pattern becomes easier to see.",
    "There is a surprising amount of precision involved.",
    "That's where the real work happens.",
    "Put simply, structure matters.",
    "It's easy to take for granted, and easy to underestimate.",
    "Nature and people have both found clever answers here.",
    "This is also where most of the common myths begin.",
)
EXAMPLE = (
    "1|Let's make this concrete with {kw}.",
    "1|Here's a simple example: imagine watching {kw} up close, one step at a time.",
    "To see it in action, take {kw} as an example.",
    "Picture {kw} in an everyday setting, and the idea suddenly clicks.",
    "1|Imagine seeing {subject} for the very first time.",
    "A real-world example makes this clearer, so consider {kw}.",
    "For a practical example, think about {kw} and {kw2} working together.",
)
EXAMPLE_EXTRA = (
    "Notice how each part depends on the others.",
    "What looks simple from a distance turns out to be full of detail.",
    "It's the same idea we just saw, in a more familiar setting.",
    "Seen this way, the whole thing feels much less mysterious.",
    "Examples like this make the big ideas easier to remember.",
    "Try picturing it yourself, step by step.",
    "It's a small example, but it captures the big idea.",
    "You have probably seen this before without noticing it.",
    "Once you spot it here, you'll see it in other places too.",
    "The same pattern shows up again and again.",
    "It's one thing to hear about it, and another to see it happen.",
)
CLOSING = (
    "w|So that's {topic}, in a nutshell.",
    "Now you know a little more about {topic}.",
    "The next time you think about {topic}, remember how much is happening behind the scenes.",
    "And that, in short, is the story of {subject}.",
    "Next time you come across {subject}, you'll know what's really going on.",
    "From {kw} to {kw2}, it all fits together.",
)
CLOSING_EXTRA = (
    "In the end, it all comes down to a few simple ideas working together.",
    "It's a reminder that even familiar things can hold surprises.",
    "There's always more to discover.",
    "If this sparked your curiosity, keep exploring.",
    "f|Thanks for watching.",
    "f|Stay curious.",
)
GENERAL_EXTRA = (
    "It's worth taking a moment to appreciate that.",
    "There's a lot packed into a small space here.",
    "That's part of what makes this so fascinating.",
    "The more closely you look, the more there is to see.",
    "It's a story of cause and effect.",
    "Every detail has a purpose.",
    "Sometimes the simplest parts are the most important.",
    "It's a good reminder to look a little closer.",
    "Little by little, the picture comes together.",
    "That's easy to say, but remarkable to watch.",
    "The pieces fit together better than you might expect.",
    "Bit by bit, it starts to make sense.",
)
TINY = {
    "hook": ("p|Meet the {kw}.", "All about {kw}.", "Discover {kw}!", "Curious about {kw}?"),
    "context": ("Start with {kw}.", "First, {kw}.", "Some background on {kw}."),
    "point": ("Focus on {kw}.", "Now, consider {kw}.", "p|Notice the {kw}.", "Key idea: {kw}."),
    "example": ("Take {kw}, for example.", "For example, {kw}.", "Picture {kw} up close."),
    "closing": ("That's {kw}, explained.", "So, that's {kw}!", "Stay curious about {kw}."),
}
#: last resort: fits any budget (3 words or fewer) whatever the keywords look like
SAFE = {
    "hook": "Watch closely.",
    "context": "Some background first.",
    "point": "Notice this.",
    "example": "Here's an example.",
    "closing": "Thanks for watching.",
}
MAIN = {"hook": HOOK, "context": CONTEXT, "point": POINT, "example": EXAMPLE, "closing": CLOSING}
EXTRA = {
    "hook": HOOK_EXTRA,
    "context": CONTEXT_EXTRA,
    "point": POINT_EXTRA,
    "example": EXAMPLE_EXTRA,
    "closing": CLOSING_EXTRA,
}
#: roles whose main sentences may come back as extras, about another keyword
REUSE_MAIN = frozenset({"context", "point", "example"})

VISUALS = {
    "hook": (
        "striking close-up of {kw}, dramatic lighting, shallow depth of field",
        "bold opening shot of {subject}, vivid colors, centered composition",
        "eye-catching macro view of {kw}, crisp detail, soft bokeh background",
    ),
    "context": (
        "wide establishing shot of {subject} in its natural setting, soft daylight",
        "calm overview of {kw} and the world around it, gentle morning light",
        "panoramic view that sets the scene for {subject}, muted tones",
    ),
    "point": (
        "detailed view of {kw}, clean composition, natural light",
        "clear side-by-side of {kw} and {kw2}, balanced framing, bright accents",
        "close-up of {kw} in action, sharp focus, warm light",
        "simple diagram-like arrangement highlighting {kw}, bold shapes, clean background",
    ),
    "example": (
        "everyday scene showing {kw} up close, warm natural tones",
        "real-world example of {kw}, candid documentary style",
        "hands-on view of {kw}, shallow depth of field, soft window light",
    ),
    "closing": (
        "calm wide shot of {subject} at golden hour, gentle light",
        "peaceful final view of {kw}, soft focus, warm sunset colors",
        "slow pull-back revealing {subject}, serene atmosphere",
    ),
}
