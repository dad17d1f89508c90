from django.db import models


class FloorRow(models.Model):
    """Eight fields, about the size of what a signature writes, for the POST floor."""

    school_id = models.BigIntegerField()
    carer_id = models.BigIntegerField()
    version_id = models.BigIntegerField()
    typed_name = models.CharField(max_length=200)
    statement = models.TextField()
    agreed = models.BooleanField()
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True)
