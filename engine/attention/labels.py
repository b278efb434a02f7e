"""What the Attention page calls its tasks and their ideal-pattern scores (a link's `at_task` holds a label)."""

TASK_LABELS = {
    "reverse": "Reverse the sequence",
    "sort": "Sort the sequence",
    "copy": "Copy the sequence",
    "induction": "Induction",  # what it does (continue a repeated segment) is in the task box's help
}
# The labels links were made with before: "Induction (continue a repeated segment)" did not fit the task box.
OLD_TASK_LABELS = {"Induction (continue a repeated segment)": "induction"}

#: What the ideal-pattern score is called for each task.
PATTERN_NAMES = {
    "reverse": "anti-diagonal mass",
    "sort": "sorted-position mass",
    "copy": "same-position mass",
    "induction": "induction score",
}
