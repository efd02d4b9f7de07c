"""What happens across domains after an event, in one place per event.

Domain packages below this one never call each other sideways for consequences: a media file
settling puts its claim in the queue and looks for a dispute here (`intake`), and a decision
becomes an award, a hold or a reversal here (`decisions`). The claim's status itself moves
only through `mvq.submissions.lifecycle`.
"""
