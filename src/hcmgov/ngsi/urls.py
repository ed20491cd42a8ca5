"""/ngsi-ld/v1: the NGSI-LD API (ETSI GS CIM 009 V1.6.1). Every route but the core @context takes a
bearer token (``ngsi.http``)."""

from django.urls import path

from hcmgov.ngsi import views, views_temporal
from hcmgov.ngsi import views_subscriptions as subs
from hcmgov.ngsi.http import endpoint

R, W = False, True  # read, write

app_name = "ngsi"
urlpatterns = [
    path("ngsi-ld-core-context-v1.6.jsonld", views.core_context, name="core_context"),
    path("entities", endpoint(GET=(views.entities_get, R), POST=(views.entities_post, W)), name="entities"),
    path(
        "entities/<str:entity_id>", endpoint(GET=(views.entity_get, R), DELETE=(views.entity_delete, W)), name="entity"
    ),
    path(
        "entities/<str:entity_id>/attrs",
        endpoint(POST=(views.attrs_post, W), PATCH=(views.attrs_patch, W)),
        name="entity_attrs",
    ),
    path(
        "entities/<str:entity_id>/attrs/<str:attr>",
        endpoint(PATCH=(views.attr_patch, W), DELETE=(views.attr_delete, W)),
        name="entity_attr",
    ),
    path("entityOperations/create", endpoint(POST=(views.batch_create, W)), name="batch_create"),
    path("entityOperations/upsert", endpoint(POST=(views.batch_upsert, W)), name="batch_upsert"),
    path("entityOperations/update", endpoint(POST=(views.batch_update, W)), name="batch_update"),
    path("entityOperations/delete", endpoint(POST=(views.batch_delete, W)), name="batch_delete"),
    # the same with a trailing slash, as client libraries write them (ngsildclient: POST /entities/,
    # /entityOperations/<op>/; Orion-LD accepts both spellings)
    path("entities/", endpoint(GET=(views.entities_get, R), POST=(views.entities_post, W)), name="entities_slash"),
    path("entityOperations/create/", endpoint(POST=(views.batch_create, W)), name="batch_create_slash"),
    path("entityOperations/upsert/", endpoint(POST=(views.batch_upsert, W)), name="batch_upsert_slash"),
    path("entityOperations/update/", endpoint(POST=(views.batch_update, W)), name="batch_update_slash"),
    path("entityOperations/delete/", endpoint(POST=(views.batch_delete, W)), name="batch_delete_slash"),
    path("types", endpoint(GET=(views.types_get, R)), name="types"),
    path("types/<str:type_name>", endpoint(GET=(views.type_get, R)), name="type"),
    path("attributes", endpoint(GET=(views.attributes_get, R)), name="attributes"),
    path("attributes/<str:attr>", endpoint(GET=(views.attribute_get, R)), name="attribute"),
    path(
        "subscriptions",
        endpoint(GET=(subs.subscriptions_get, R), POST=(subs.subscriptions_post, W)),
        name="subscriptions",
    ),
    path(
        "subscriptions/<str:subscription_id>",
        endpoint(
            GET=(subs.subscription_get, R), PATCH=(subs.subscription_patch, W), DELETE=(subs.subscription_delete, W)
        ),
        name="subscription",
    ),
    path("temporal/entities", endpoint(GET=(views_temporal.temporal_entities_get, R)), name="temporal_entities"),
    path(
        "temporal/entities/<str:entity_id>",
        endpoint(GET=(views_temporal.temporal_entity_get, R)),
        name="temporal_entity",
    ),
]
