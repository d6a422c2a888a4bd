"""tap-hubspot: HubSpot CRM objects, owners, pipelines and associations as Singer streams."""
