"""Stage 5, the decision: the goals, goal-weighted scoring, the recommendation with its reasons, settle outlooks, full runs compared."""
