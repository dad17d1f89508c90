"""How evidence answers what the apps below it announce (connected in EvidenceConfig.ready)."""

from django.dispatch import receiver

from declarations.signals import declaration_recorded
from evidence.models import DeclarationPdf
from evidence.pdf import carer_copy_name, render_declaration_pdf, verification_url
from evidence.retention import retention_step
from portal.tasks import enqueue_with_transaction
from sending.scheduler import register_step
from sending.signals import confirmation_copy

# Declarations past their school's retention period, taken with the rest of the schedule.
register_step("retention", retention_step)


@receiver(declaration_recorded, dispatch_uid="evidence.render_pdf")
def queue_declaration_pdf(sender, declaration, **kwargs):
    """Every declaration is rendered, sealed and stored as a PDF once, in the background."""
    enqueue_with_transaction(render_declaration_pdf, declaration.pk)


@receiver(confirmation_copy, dispatch_uid="evidence.confirmation_copy")
def attach_declaration_pdf(sender, declaration, **kwargs) -> dict:
    """The carer's own copy: the sealed PDF is attached when it has been rendered by the time the
    e-mail goes (usually: it is queued first); otherwise the e-mail says where to download it (the
    receipt page, reached again through their link while it works)."""
    record = DeclarationPdf.objects.filter(declaration=declaration).first()
    return {
        "pdf": record,
        "pdf_filename": carer_copy_name(declaration) if record else "",
        "verify_page": verification_url(record.verification_code) if record else "",
    }
