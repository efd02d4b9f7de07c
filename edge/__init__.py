"""What the API (`api`) and the pages (`web`) share at the HTTP edge, below both: the request's
unit of work and clock, who is asking, what a failure means to a client, the language of the
answer, content negotiation and streamed downloads. It imports neither of them."""
