"""What the sending app asks of the apps built on it, which it never imports."""

from django.dispatch import Signal

# A confirmation e-mail is being written: receivers may return a dict of what the carer's copy
# of their declaration adds to the e-mail (the sealed PDF, where to verify it). Argument: declaration.
confirmation_copy = Signal()

# The mail server or the recipient's reported that an e-mail could not be delivered (a bounce).
# Whatever learns of a bounce sends this, once per bounce, inside the transaction that records
# it. Arguments: message (the OutboxMessage), reason (a short text, no personal data).
email_bounced = Signal()
