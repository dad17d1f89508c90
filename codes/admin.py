from django.contrib import admin

from codes.models import Code, CodeReview, CodeVersion, ReviewReminder


class CodeVersionInline(admin.TabularInline):
    model = CodeVersion
    fields = ["number", "status", "effective_from", "review_due", "requires_signing", "fingerprint"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Code)
class CodeAdmin(admin.ModelAdmin):
    list_display = ["title", "owner"]
    search_fields = ["owner__name", "title"]
    inlines = [CodeVersionInline]


@admin.register(CodeVersion)
class CodeVersionAdmin(admin.ModelAdmin):
    """Operators can read every version; published ones are read-only and cannot be deleted.

    Drafts are written through the staff pages, which go through codes.services.
    """

    list_display = ["code", "number", "status", "effective_from", "review_due", "requires_signing"]
    list_filter = ["status", "requires_signing"]
    search_fields = ["code__owner__name", "title"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return obj is not None and obj.is_draft and super().has_delete_permission(request, obj)


@admin.register(CodeReview)
class CodeReviewAdmin(admin.ModelAdmin):
    """Reviews recorded as "no change needed" (from the staff code page); a record, never edited."""

    list_display = ["code", "version", "reviewed_on", "reviewed_by", "previous_review_due", "next_review_due"]
    list_select_related = ["code__owner", "version", "reviewed_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReviewReminder)
class ReviewReminderAdmin(CodeReviewAdmin):
    """The e-mails to headteachers about review dates: one per code, date and kind. Deleting one
    that never went (sent_at empty: the scheduler died while sending) lets the next run send it."""

    list_display = ["code", "kind", "review_due", "created_at", "sent_at", "recipients", "outcome"]
    list_filter = ["kind"]
    list_select_related = ["code__owner"]

    def has_delete_permission(self, request, obj=None):
        return admin.ModelAdmin.has_delete_permission(self, request, obj)
