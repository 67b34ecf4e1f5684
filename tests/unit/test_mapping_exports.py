"""One small export per platform, with that platform's real header (docs/reference/legacy-formats.md §3), and detection.

``EXPORTS`` is shared with the acceptance tests in tests/integration/test_mapping_acceptance.py, which
write these files to disk and run them through detection, resolution against the sandbox and
transformation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from etl.presets.detect import detect_platform
from etl.presets.preset import load_all, preset_names


@dataclass(frozen=True)
class Export:
    files: dict[str, str]  # file name → CSV text
    # expected: source header → canonical target label (fields only)
    fields: dict[str, str]
    statuses: dict[str, str] = field(default_factory=dict)  # email → expected normalised status
    tags: dict[str, list[str]] = field(default_factory=dict)  # email → expected tag labels


MC_HEAD = (
    "Email Address,First Name,Last Name,Company,Position,ZIP Code,MEMBER_RATING,OPTIN_TIME,OPTIN_IP,"
    "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION"
)
MC_TAIL = "LEID,EUID,NOTES,TAGS"

EXPORTS: dict[str, Export] = {
    "mailchimp": Export(
        files={
            "subscribed_members_export_bd91baeb6f.csv": f"{MC_HEAD},LAST_CHANGED,{MC_TAIL}\n"
            "ann@example.com,Ann,Lee,Lorem Co.,CEO,10001,2,2019-05-01 12:34:56,1.2.3.4,2019-05-01 12:34:56,"
            "1.2.3.4,47.6614000,-122.2930000,-8,-7,America/Los_Angeles,US,WA,2019-05-02 10:00:00,44877845,"
            'c2cb0681af,likes cats,"""VIP"",""Blog"""\n',
            "unsubscribed_members_export_bd91baeb6f.csv": f"{MC_HEAD},UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,UNSUB_REASON_OTHER,"
            f"{MC_TAIL}\n"
            "bob@example.com,Bob,,,,,1,,,,,,,,,,,,2020-01-01 00:00:00,Spring,abc,Too many,,44877846,"
            'c2cb0681b0,,"""Editors"""\n',
            "cleaned_members_export_bd91baeb6f.csv": f"{MC_HEAD},CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,{MC_TAIL}\n"
            "cat@example.com,Cat,,,,,1,,,,,,,,,,,,2020-02-01 00:00:00,Spring,abc,44877847,c2cb0681b1,,\n",
        },
        fields={
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Company": "Company",
            "Position": "Job Title",
            "ZIP Code": "Zip Code",
            "OPTIN_TIME": "Opt-in Time",
            "OPTIN_IP": "Opt-in IP",
            "CONFIRM_TIME": "Confirm Time",
            "CONFIRM_IP": "Confirm IP",
            "TIMEZONE": "Time Zone",
            "CC": "Country Code",
            "REGION": "Region",
            "EUID": "Mailchimp EUID",
            "NOTES": "Notes",
            "UNSUB_REASON": "Unsubscribe Reason",
            "UNSUB_REASON_OTHER": "Unsubscribe Reason Other",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
        },
        tags={"ann@example.com": ["VIP", "Blog"], "bob@example.com": ["Editors"]},
    ),
    "constant_contact": Export(
        files={
            "contact_export_1134551190518_021826_133957.csv": "Email address,First name,Last name,Company,Job title,Email status,Email permission status,"
            "Email update source,Confirmed Opt-Out Date,Confirmed Opt-Out Source,Confirmed Opt-Out Reason,"
            "Phone - mobile,City - Home,Tags,Email Lists,Source Name,Created At,Updated At\n"
            'ann@example.com,Ann,Lee,Acme,CTO,Active,Express,Contact,,,,555-1,Paris,"vip, donor",Newsletter,'
            "Website sign-up form,2020-09-25 16:45:13 -0400,2020-09-25 16:45:13 -0400\n"
            "bob@example.com,Bob,Ray,,,Unsubscribed,Unsubscribed,Contact,2021-01-02 10:00:00 -0400,Contact,"
            "Too many,,,,Newsletter,,2020-09-25 16:45:13 -0400,2021-01-02 10:00:00 -0400\n"
            "cat@example.com,Cat,,,,Awaiting Confirmation,Pending,,,,,,,,,,,\n"
            "dan@example.com,Dan,,,,,,,,,,,,,,,,\n"
        },
        fields={
            "First name": "First Name",
            "Last name": "Last Name",
            "Company": "Company",
            "Job title": "Job Title",
            "Email permission status": "Email Permission",
            "Confirmed Opt-Out Date": "Opt-out Date",
            "Confirmed Opt-Out Reason": "Opt-out Reason",
            "Phone - mobile": "Mobile Phone",
            "City - Home": "City",
            "Source Name": "Source",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "pending",
            "dan@example.com": "no_consent",
        },
        tags={"ann@example.com": ["vip", "donor"]},
    ),
    "brevo": Export(
        files={
            "contacts_export.csv": "EMAIL,FIRSTNAME,LASTNAME,SMS,LANDLINE_NUMBER,_listIds,_SUBSCRIBED,_BLOCKLISTED,ADDED_TIME,"
            "MODIFIED_TIME\n"
            "ann@example.com,Ann,Lee,+33600000000,,[2|21],email_marketing,,2023-01-01 10:00:00,"
            "2023-01-02 10:00:00\n"
            "bob@example.com,Bob,,,,[2],email_marketing,1,2023-01-01 10:00:00,2023-01-02 10:00:00\n"
            "cat@example.com,Cat,,,,,sms_marketing,,2023-01-01 10:00:00,2023-01-02 10:00:00\n"
        },
        fields={
            "FIRSTNAME": "First Name",
            "LASTNAME": "Last Name",
            "SMS": "Mobile Phone",
            "LANDLINE_NUMBER": "Phone",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "no_consent",
        },
    ),
    "klaviyo": Export(
        files={
            "List Export 2022-08-15.csv": "Klaviyo ID,Email,First Name,Last Name,Organization,Title,Phone Number,City,State / Region,Country,"
            "Zip Code,Source,Email Marketing Consent,Profile Created On,Date Added,Shopify Tags\n"
            "01H,ann@example.com,Ann,Lee,Acme,CTO,555,Paris,IDF,France,75001,Form,SUBSCRIBED,"
            '2022-01-01 10:00:00,2022-01-02 10:00:00,"wholesale, vip"\n'
            "01J,bob@example.com,Bob,,,,,,,,,,UNSUBSCRIBED,2022-01-01 10:00:00,2022-01-02 10:00:00,\n"
            "01K,cat@example.com,Cat,,,,,,,,,,NEVER_SUBSCRIBED,2022-01-01 10:00:00,2022-01-02 10:00:00,\n"
        },
        fields={
            "Klaviyo ID": "Klaviyo ID",
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Organization": "Company",
            "Title": "Job Title",
            "Phone Number": "Phone",
            "City": "City",
            "State / Region": "State",
            "Country": "Country",
            "Zip Code": "Zip Code",
            "Source": "Source",
            "Profile Created On": "Created Date",
            "Date Added": "Date Added",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "no_consent",
        },
        tags={"ann@example.com": ["wholesale", "vip"]},
    ),
    "hubspot": Export(
        files={
            "hubspot-crm-exports-all-contacts-2023-02-21.csv": '"Record ID","First Name","Last Name","City","Company Name","Contact owner","Country/Region",'
            '"Create Date","Email","Job Title","Lifecycle Stage","Marketing contact status",'
            '"Unsubscribed from all email"\n'
            '"101","Ann","Lee","Paris","Acme","Jo","France","2023-01-01 10:00","ann@example.com","CTO",'
            '"Lead","Marketing contact","false"\n'
            '"102","Bob","Ray","","","","","2023-01-01 10:00","bob@example.com","","Customer",'
            '"Non-marketing contact","true"\n'
        },
        fields={
            "Record ID": "HubSpot Record ID",
            "First Name": "First Name",
            "Last Name": "Last Name",
            "City": "City",
            "Company Name": "Company",
            "Country/Region": "Country",
            "Create Date": "Created Date",
            "Job Title": "Job Title",
            "Lifecycle Stage": "Lifecycle Stage",
            "Marketing contact status": "Marketing Contact Status",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
    ),
    "activecampaign": Export(
        files={
            "contacts.csv": "Email,First Name,Last Name,Phone,Tags,Date Created,IP,Status\n"
            'ann@example.com,Ann,Lee,555,"vip,donor",2023-01-01 10:00:00,1.2.3.4,Active\n'
            "bob@example.com,Bob,,,,2023-01-01 10:00:00,,Unsubscribed\n"
            "cat@example.com,Cat,,,,2023-01-01 10:00:00,,Bounced\n"
        },
        fields={
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Phone": "Phone",
            "Date Created": "Created Date",
            "IP": "Opt-in IP",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
        },
        tags={"ann@example.com": ["vip", "donor"]},
    ),
    "kit": Export(
        files={
            "2026-04-21-6230386.csv": "email,first_name,created_at,status,tags,city,state,country\n"
            'ann@example.com,Ann,2026-01-01 10:00:00 UTC,active,"blog, vip",Paris,IDF,France\n'
            "bob@example.com,Bob,2026-01-01 10:00:00 UTC,cancelled,,,,\n"
            "cat@example.com,Cat,2026-01-01 10:00:00 UTC,bounced,,,,\n"
        },
        fields={
            "first_name": "First Name",
            "created_at": "Created Date",
            "city": "City",
            "state": "State",
            "country": "Country",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
        },
        tags={"ann@example.com": ["blog", "vip"]},
    ),
    "mailerlite": Export(
        files={
            "subscribers.csv": "Subscriber,Subscribed,Name,Last name,Groups\n"
            "ann@example.com,2023-01-01 10:00:00,Ann,Lee,Newsletter;Customers\n"
            "bob@example.com,2023-01-01 10:00:00,Bob,Ray,Newsletter\n"
        },
        fields={"Subscribed": "Subscribed Date", "Name": "First Name", "Last name": "Last Name"},
        statuses={"ann@example.com": "subscribed", "bob@example.com": "subscribed"},
    ),
    "aweber": Export(
        files={
            "awlist123_news/leads/active_leads.csv": "Email,Name,Add Method,Verified,Date Added,tags,Status,Inactive Date\n"
            'ann@example.com,Ann Lee,api,Verified,2020-01-01 10:00:00,"vip,blog",subscribed,\n',
            "awlist123_news/leads/inactive_leads.csv": "Email,Name,Add Method,Verified,Date Added,tags,Status,Inactive Date\n"
            "bob@example.com,Bob Ray,,Verified,2020-01-01 10:00:00,,unsubscribed,2021-01-01 10:00:00\n",
        },
        fields={"Name": "Full Name", "Verified": "Verified", "Date Added": "Date Added"},
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
        tags={"ann@example.com": ["vip", "blog"]},
    ),
    "campaign_monitor": Export(
        files={
            "list_subscribers.csv": "EmailAddress,Name,Date,State,ReadsEmailWith,ConsentToTrack,DOB\n"
            "ann@example.com,Ann Lee,2020-01-01 10:00:00,Active,Gmail,Yes,1990-01-02\n"
            "bob@example.com,Bob Ray,2020-01-01 10:00:00,Unsubscribed,,No,\n"
            "cat@example.com,Cat,2020-01-01 10:00:00,Unconfirmed,,Unchanged,\n"
        },
        fields={
            "Name": "Full Name",
            "Date": "Subscribed Date",
            "ConsentToTrack": "Consent To Track",
            "DOB": "DOB",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "pending",
        },
    ),
    "getresponse": Export(
        files={
            "contacts.csv": "email,name,campaign,origin,createdOn,ipAddress,tags\n"
            'ann@example.com,Ann Lee,newsletter,import,2021-01-01,1.2.3.4,"vip,blog"\n'
            "bob@example.com,Bob,newsletter,api,2021-01-01,,\n"
        },
        fields={
            "name": "Full Name",
            "origin": "Source",
            "createdOn": "Created Date",
            "ipAddress": "Opt-in IP",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "subscribed"},
        tags={"ann@example.com": ["vip", "blog"]},
    ),
    "sendgrid": Export(
        files={
            "contacts_export_1.csv": "EMAIL,FIRST_NAME,LAST_NAME,ADDRESS_LINE_1,ADDRESS_LINE_2,CITY,STATE_PROVINCE_REGION,POSTAL_CODE,"
            "COUNTRY,ALTERNATE_EMAILS,PHONE_NUMBER,WHATSAPP,LINE,FACEBOOK,UNIQUE_NAME,CREATED_AT,UPDATED_AT,"
            "CONTACT_ID,CAR,PHONE_NUMBER_ID,EXTERNAL_ID,ANONYMOUS_ID\n"
            "ann@example.com,Ann,Lee,1 Main St,,Paris,IDF,75001,France,,555,,,,,2023-01-01T10:00:00Z,"
            "2023-01-02T10:00:00Z,c-1,Volvo,,x-1,\n"
        },
        fields={
            "FIRST_NAME": "First Name",
            "LAST_NAME": "Last Name",
            "ADDRESS_LINE_1": "Address",
            "ADDRESS_LINE_2": "Address 2",
            "CITY": "City",
            "STATE_PROVINCE_REGION": "State",
            "POSTAL_CODE": "Zip Code",
            "COUNTRY": "Country",
            "ALTERNATE_EMAILS": "Alternate Emails",
            "PHONE_NUMBER": "Phone",
            "WHATSAPP": "WhatsApp",
            "CREATED_AT": "Created Date",
            "CONTACT_ID": "SendGrid Contact ID",
            "CAR": "CAR",
            "EXTERNAL_ID": "External ID",
        },
        statuses={"ann@example.com": "subscribed"},
    ),
    "benchmark_legacy": Export(
        files={
            "list_download.csv": "Email,Email Type,First Name,Middle Name, Last Name,Address,City,State,Zip,Country,Phone,Fax,"
            "Cell Phone,Company Name,Job Title,Business Phone,Business Fax,Business Address,Business City,"
            "Business State,Business Zip,Business Country,Notes,Date 1,Date 2,Extra 3,Extra 4,Extra 5,Extra 6\n"
            "ann@example.com,HTML,Ann,Q,Lee,1 Main St,Paris,IDF,75001,France,555,,556,Acme,CTO,,,,,,,,"
            "note,01/02/2020,,x3,,,\n"
        },
        fields={
            "First Name": "First Name",
            "Middle Name": "Middle Name",
            "Last Name": "Last Name",
            "Address": "Address",
            "City": "City",
            "State": "State",
            "Zip": "Zip Code",
            "Country": "Country",
            "Phone": "Phone",
            "Fax": "Fax",
            "Cell Phone": "Mobile Phone",
            "Company Name": "Company",
            "Job Title": "Job Title",
            "Business Phone": "Business Phone",
            "Business Fax": "Business Fax",
            "Business Address": "Business Address",
            "Business City": "Business City",
            "Business State": "Business State",
            "Business Zip": "Business Zip",
            "Business Country": "Business Country",
            "Notes": "Notes",
            "Date 1": "Date 1",
            "Date 2": "Date 2",
            "Extra 3": "Extra 3",
            "Extra 4": "Extra 4",
            "Extra 5": "Extra 5",
            "Extra 6": "Extra 6",
        },
        statuses={"ann@example.com": "subscribed"},
    ),
    "legacy_api": Export(
        files={
            "legacy_api_contacts.csv": "email,first_name,last_name,status,id,plan,signup_source\n"
            "ann@example.com,Ann,Lee,subscribed,6f1c2a9e-0000-4000-8000-000000000001,pro,web\n"
            "bob@example.com,Bob,Ray,unsubscribed,6f1c2a9e-0000-4000-8000-000000000002,,\n"
        },
        fields={
            "first_name": "First Name",
            "last_name": "Last Name",
            "id": "Legacy ID",
            "plan": "plan",
            "signup_source": "signup_source",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
    ),
    "ghost": Export(
        files={
            "members.2024-05-01.csv": "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
            "created_at,deleted_at,labels,tiers\n"
            "6630a1f2c1d2e3f4a5b6c701,ann@example.com,Ann Lee,Early supporter,true,false,,2023-01-10T09:00:00.000Z,,"
            '"VIP, Newsletter",Free\n'
            "6630a1f2c1d2e3f4a5b6c702,bob@example.com,Bob Ray,,false,true,cus_1,2023-02-10T09:00:00.000Z,,,Gold\n"
        },
        fields={"name": "Full Name", "note": "Notes", "created_at": "Created Date", "tiers": "Ghost Tiers"},
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
        tags={"ann@example.com": ["VIP", "Newsletter"]},
    ),
    "substack": Export(
        files={
            "email_list.example-pub.csv": "email,active_subscription,expiry,email_disabled,created_at\n"
            "ann@example.com,true,2027-01-01T00:00:00.000Z,false,2021-03-01T10:00:00.000Z\n"
            "bob@example.com,true,2027-01-01T00:00:00.000Z,true,2021-03-01T10:00:00.000Z\n"
        },
        fields={
            "created_at": "Created Date",
            "expiry": "Subscription Expiry",
            "active_subscription": "Paid Subscription Active",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
    ),
    "beehiiv": Export(
        files={
            "members.csv": "email,First Name,Last Name,status,tier,created_at,stripe_customer_id,Free Tier,"
            "Premium Tier,unsubscribed_at,Subscription Date (Substack)\n"
            "ann@example.com, Ann ,Lee,active,free,2023-03-24 10:23:10 UTC,,Yes,No,,\n"
            "bob@example.com,Bob,,active,premium,2023-03-24 10:36:47 UTC,cus_1,No,Yes,2024-03-13 11:33:53 UTC,\n"
            "cat@example.com,,,pending,free,2023-04-11 14:02:46 UTC,,Yes,No,,\n"
        },
        fields={
            "First Name": "First Name",
            "Last Name": "Last Name",
            "created_at": "Created Date",
            "tier": "beehiiv Tier",
            "Free Tier": "Free Tier",
            "Premium Tier": "Premium Tier",
            "Subscription Date (Substack)": "Subscription Date (Substack)",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "pending",
        },
    ),
    "shopify": Export(
        files={
            "customers_export.csv": "Customer ID,First Name,Last Name,Email,Accepts Email Marketing,"
            "Default Address Company,Default Address Address1,Default Address Address2,Default Address City,"
            "Default Address Province Code,Default Address Country Code,Default Address Zip,Default Address Phone,"
            "Phone,Accepts SMS Marketing,Total Spent,Total Orders,Note,Tax Exempt,Tags\n"
            "'7210448301122,Ann,Lee,ann@example.com,yes,Acme,1 Main St,,Ottawa,ON,CA,K1A 0B1,,+16135550101,no,"
            '120.50,3,,no,"vip, newsletter"\n'
            "'7210448301123,Bob,Ray,bob@example.com,no,,,,,,,,,,yes,0.00,0,,no,\n"
        },
        fields={
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Default Address Company": "Company",
            "Default Address Address1": "Address",
            "Default Address Address2": "Address 2",
            "Default Address City": "City",
            "Default Address Province Code": "State Code",
            "Default Address Country Code": "Country Code",
            "Default Address Zip": "Zip Code",
            "Default Address Phone": "Address Phone",
            "Phone": "Phone",
            "Accepts SMS Marketing": "Accepts SMS Marketing",
            "Total Spent": "Total Spent",
            "Total Orders": "Total Orders",
            "Note": "Notes",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "no_consent"},
        tags={"ann@example.com": ["vip", "newsletter"]},
    ),
    "mautic": Export(
        files={
            "contacts_export_2024-05-01.csv": "id,firstname,lastname,email,company,city,points,preferred_locale,"
            "tags,doNotEmail,date_added\n"
            "1,Ann,Lee,ann@example.com,Acme,London,25,en_US,newsletter|vip,0,2024-01-05 10:00:00\n"
            "2,Bob,Ray,bob@example.com,,,0,en_US,,1,2024-01-06 10:00:00\n"
        },
        fields={
            "firstname": "First Name",
            "lastname": "Last Name",
            "company": "Company",
            "city": "City",
            "points": "Mautic Points",
            "date_added": "Created Date",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
        tags={"ann@example.com": ["newsletter", "vip"]},
    ),
    "listmonk": Export(
        files={
            "subscribers.csv": "uuid,email,name,attributes,status,created_at,updated_at\n"
            '6b1e2f4a-0c1d-4e5f-8a9b-000000000001,ann@example.com,Ann Lee,"{""city"": ""London""}",enabled,'
            "2024-03-01 10:00:00.123456 +0000 UTC,2024-03-02 10:00:00 +0000 UTC\n"
            "6b1e2f4a-0c1d-4e5f-8a9b-000000000002,bob@example.com,Bob Ray,{},blocklisted,"
            "2024-03-01 11:00:00 +0000 UTC,2024-03-05 11:00:00 +0000 UTC\n"
        },
        fields={"name": "Full Name", "attributes": "listmonk Attributes", "created_at": "Created Date"},
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
    ),
    "keila": Export(
        files={
            "contacts_np_Xk3L9aQ2vB.csv": "Email,First name,Last name,Data,Status\r\n"
            'ann@example.com,Ann,Lee,"{""plan"":""pro""}",active\r\n'
            "bob@example.com,Bob,,,unsubscribed\r\n"
            "cat@example.com,,,,unreachable\r\n"
        },
        fields={"First name": "First Name", "Last name": "Last Name", "Data": "Keila Data"},
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
        },
    ),
    "sendy": Export(
        files={
            "newsletter-all.csv": '"Name","Email","Joined","Last activity","Added via","Opt-in method","IP address",'
            '"Country","Country code","Signed up from","Status","GDPR","Company"\n'
            '"Ann Lee","ann@example.com","2023/05/14, 09:31AM","2024/02/01, 04:12PM","Standard subscribe form",'
            '"Double opt-in","203.0.113.7","France","FR","https://example.com/","Active","Yes","Acme"\n'
            '"Bob Ray","bob@example.com","","","App interface","Single opt-in","","","","","Marked as spam","No",""\n'
            '"Cat Poe","cat@example.com","","","API","Single opt-in","No data","No data","","","Unconfirmed","No",""'
        },
        fields={
            "Name": "Full Name",
            "Joined": "Subscribed Date",
            "Added via": "Source",
            "Opt-in method": "Opt-in Method",
            "IP address": "Opt-in IP",
            "Country": "Country",
            "Signed up from": "Signup Page",
            "GDPR": "GDPR",
            "Company": "Company",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "cleaned",
            "cat@example.com": "pending",
        },
    ),
    "mailpoet": Export(
        files={
            "MailPoet_export_k3J9xQ2mZp8aB4c.csv": '\ufeff"Email","First name","Last name","Subscription IP",'
            '"Subscription time","Confirmation time","Confirmation IP","List status","Global status","List"\n'
            '"ann@example.com","Ann","Lee","1.2.3.4","2023-05-14 09:31:02","2023-05-14 09:33:40","1.2.3.4",'
            '"subscribed","subscribed","Newsletter"\n'
            '"bob@example.com","Bob","Ray","","2023-05-14 09:31:02","","","unsubscribed","subscribed","Newsletter"\n'
            '"cat@example.com","Cat","","","2023-05-14 09:31:02","","","subscribed","inactive","Newsletter"\n'
        },
        fields={
            "First name": "First Name",
            "Last name": "Last Name",
            "Subscription IP": "Opt-in IP",
            "Subscription time": "Opt-in Time",
            "Confirmation time": "Confirm Time",
            "Confirmation IP": "Confirm IP",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "unsubscribed",
        },
    ),
    "drip": Export(
        files={
            "subscribers.csv": "email,first_name,last_name,address1,city,zip,country,time_zone,lifetime_value,status,"
            "tags,created_at\n"
            'ann@example.com,Ann,Lee,1 Main St,Paris,75001,FR,Europe/Paris,12.50,active,"VIP, Customer",'
            "2023-05-14T09:31:02Z\n"
            "bob@example.com,Bob,,,,,,,0,undeliverable,,2023-05-14T09:31:02Z\n"
        },
        fields={
            "first_name": "First Name",
            "last_name": "Last Name",
            "address1": "Address",
            "city": "City",
            "zip": "Zip Code",
            "country": "Country",
            "time_zone": "Time Zone",
            "lifetime_value": "Lifetime Value",
            "created_at": "Created Date",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "cleaned"},
        tags={"ann@example.com": ["VIP", "Customer"]},
    ),
    "omnisend": Export(
        files={
            "segment-export.csv": "Email,First name,Last name,Tags,Email status,SMS status,Email opt-in date,"
            "Email opt-out date\n"
            "ann@example.com,Ann,Lee,VIP,subscribed,nonSubscribed,2023-05-14T09:31:02Z,\n"
            "bob@example.com,Bob,,,nonSubscribed,subscribed,,\n"
            "cat@example.com,Cat,,,unsubscribed,nonSubscribed,2021-01-01T00:00:00Z,2023-01-01T00:00:00Z\n"
        },
        fields={
            "First name": "First Name",
            "Last name": "Last Name",
            "SMS status": "SMS Status",
            "Email opt-in date": "Opt-in Time",
            "Email opt-out date": "Opt-out Date",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "no_consent",
            "cat@example.com": "unsubscribed",
        },
        tags={"ann@example.com": ["VIP"]},
    ),
    "moosend": Export(
        files={
            "newsletter-members.csv": "Email,Name,Mobile,Status,Created On,Unsubscribed On\n"
            "ann@example.com,Ann Lee,+33100000000,Active,14/05/2023 09:31:02,\n"
            "bob@example.com,Bob Ray,,Active,14/05/2023 09:31:02,01/02/2024 10:00:00\n"
            "cat@example.com,Cat Poe,,Bounced,14/05/2023 09:31:02,\n"
        },
        fields={
            "Name": "Full Name",
            "Mobile": "Mobile Phone",
            "Created On": "Subscribed Date",
            "Unsubscribed On": "Unsubscribed Date",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
        },
    ),
    "icontact": Export(
        files={
            "icontact-contacts.csv": "Email,Prefix,First Name,Last Name,Business,Status,Create Date,Bounce Count\n"
            "ann@example.com,Ms.,Ann,Lee,Lorem Co.,normal,2023-05-14 09:31:02,0\n"
            "bob@example.com,,Bob,Ray,,donotcontact,2023-05-14 09:31:02,0\n"
            "cat@example.com,,Cat,Poe,,bounced,2023-05-14 09:31:02,3\n"
            "dan@example.com,,Dan,Orr,,pending,2023-05-14 09:31:02,0\n"
        },
        fields={
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Prefix": "Prefix",
            "Business": "Company",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
            "dan@example.com": "pending",
        },
    ),
    "emma": Export(
        files={
            "emma-members.csv": "Email,First Name,Last Name,Member Status,Member Since,Groups\n"
            "ann@example.com,Ann,Lee,Active,2023-05-14 09:31:02,Newsletter\n"
            "bob@example.com,Bob,Ray,Opt-out,2023-05-14 09:31:02,Newsletter\n"
            "cat@example.com,Cat,Poe,Error,2023-05-14 09:31:02,\n"
            "dan@example.com,Dan,Orr,Forwarded,2023-05-14 09:31:02,\n"
        },
        fields={"First Name": "First Name", "Last Name": "Last Name", "Member Since": "Subscribed Date"},
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
            "dan@example.com": "no_consent",
        },
    ),
    "benchmark_export": Export(
        files={
            "contacts.csv": "Contact Id,Email,Status,Sub Status,First Name,Company,Lists,Tags,Updated At\n"
            "66f1a6e4698f1bca60425a01,ann@example.com,Active,,Ann,Lorem Co.,News;Promo,VIP;Blog,2024-02-01T16:12:00.000Z\n"
            "66f1a6e4698f1bca60425a02,bob@example.com,Inactive,Unsubscribe,Bob,,News,,2024-02-01T16:12:00.000Z\n"
            "66f1a6e4698f1bca60425a03,cat@example.com,Inactive,Bounce,Cat,,News,,2024-02-01T16:12:00.000Z\n"
            "66f1a6e4698f1bca60425a04,dan@example.com,Active,confirmed,Dan,,News,,2024-02-01T16:12:00.000Z\n"
        },
        fields={"First Name": "First Name", "Company": "Company"},
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
            "dan@example.com": "subscribed",
        },
        tags={"ann@example.com": ["VIP", "Blog"]},
    ),
    "squarespace": Export(
        files={
            "contacts-subscribers.csv": "Email,First Name,Last Name,Accepts Marketing,Subscriber Status,Subscribed On,"
            "Mailing Lists,Tags\n"
            "ann@example.com,Ann,Lee,Yes,Subscribed,2023-05-14,Newsletter,VIP\n"
            "bob@example.com,Bob,,Yes,Unsubscribed,2023-05-14,,\n"
            "cat@example.com,Cat,,No,,,,\n"
        },
        fields={"First Name": "First Name", "Last Name": "Last Name", "Subscribed On": "Subscribed Date"},
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "no_consent",
        },
        tags={"ann@example.com": ["VIP"]},
    ),
    "wix": Export(
        files={
            "contacts.csv": "First Name,Last Name,Email 1,Phone 1,Address 1 - City,Labels,Email Subscriber Status,"
            "Created At (UTC+0)\n"
            'Ann,Lee,ann@example.com,+33100000000,Paris,"Customers, VIP",Subscribed,2023-05-14 09:31\n'
            "Bob,Ray,bob@example.com,,,,Never subscribed,2023-05-14 09:31\n"
            "Cat,Poe,cat@example.com,,,,Unsubscribed,2023-05-14 09:31\n"
        },
        fields={
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Phone 1": "Phone",
            "Address 1 - City": "City",
            "Created At (UTC+0)": "Created Date",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "no_consent",
            "cat@example.com": "unsubscribed",
        },
        tags={"ann@example.com": ["Customers", "VIP"]},
    ),
    "zoho_campaigns": Export(
        files={
            "contacts.csv": "Contact Email,First Name,Last Name,Company Name,Subscription Type,Tags\n"
            "ann@example.com,Ann,Lee,Lorem Co.,Marketing,VIP\n"
            "bob@example.com,Bob,,,Non-marketing,\n"
            "cat@example.com,Cat,,,Unsubscribed,\n"
        },
        fields={"First Name": "First Name", "Last Name": "Last Name", "Company Name": "Company"},
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "no_consent",
            "cat@example.com": "unsubscribed",
        },
        tags={"ann@example.com": ["VIP"]},
    ),
    "salesforce": Export(
        files={
            # Data Loader / Data Export shape: API names as headers, checkboxes true/false, ISO datetimes
            "Contact.csv": "Id,FirstName,LastName,Email,MailingCity,HasOptedOutOfEmail,EmailBouncedReason,"
            "EmailBouncedDate,IsEmailBounced,HasOptedOutOfFax,DoNotCall,CreatedDate\n"
            "0035g00000AbCdEAAV,Ann,Lee,ann@example.com,Paris,false,,,false,true,true,2024-02-05T13:51:00.000Z\n"
            "0035g00000AbCdFAAV,Bob,Ray,bob@example.com,,true,,,false,false,false,2024-02-05T13:51:00.000Z\n"
            "0035g00000AbCdGAAV,Cat,Poe,cat@example.com,,false,550 5.1.1 No such user,2024-03-02T09:14:00.000Z,"
            "true,false,false,2024-02-05T13:51:00.000Z\n"
            "0035g00000AbCdHAAV,Dan,Oz,dan@example.com,,false,,,true,false,false,2024-02-05T13:51:00.000Z\n"
        },
        fields={
            "Id": "Salesforce ID",
            "FirstName": "First Name",
            "LastName": "Last Name",
            "MailingCity": "City",
            "HasOptedOutOfFax": "Fax Opt Out",
            "DoNotCall": "Do Not Call",
            "CreatedDate": "Salesforce Created Date",
        },
        statuses={
            "ann@example.com": "subscribed",  # fax and phone opt-outs are not email ones
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",
            "dan@example.com": "cleaned",  # IsEmailBounced alone
        },
    ),
    "zoho_crm": Export(
        files={
            "Contacts_2024_02_05.csv": "Record Id,Contact Owner,First Name,Last Name,Account Name,Email,Mailing City,"
            "Mailing State,Email Opt Out,Skype ID,Created Time,Unsubscribed Mode,Unsubscribed Time,Tag\n"
            "zcrm_1,Sam,Ann,Lee,Acme,ann@example.com,Boston,MA,false,ann.lee,2024-02-05 13:51:00,,,VIP\n"
            "zcrm_2,Sam,Bob,Ray,,bob@example.com,,,true,,2024-02-05 13:51:00,Unsubscribe link,"
            "2024-03-01 10:00:00,\n"
        },
        fields={
            "Record Id": "Zoho Record ID",
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Account Name": "Company",
            "Mailing City": "City",
            "Mailing State": "State",
            "Skype ID": "Skype ID",
            "Created Time": "Created Date",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
        tags={"ann@example.com": ["VIP"]},
    ),
    "pipedrive": Export(
        files={
            "people-export.csv": "Person - ID,Person - Name,Person - First name,Person - Last name,Person - Organization,"
            "Person - Email - Work,Person - Labels,Person - Marketing status,Person - Person created\n"
            "1,Ann Lee,Ann,Lee,Acme,ann@example.com,VIP,Subscribed,2024-02-05 13:51:08\n"
            "2,Bob Ray,Bob,Ray,,bob@example.com,,Bounced,2024-02-05 13:51:08\n"
            "3,Cat Poe,Cat,Poe,,cat@example.com,,No consent,2024-02-05 13:51:08\n"
        },
        fields={
            "Person - ID": "Pipedrive Person ID",
            "Person - Name": "Full Name",
            "Person - First name": "First Name",
            "Person - Last name": "Last Name",
            "Person - Organization": "Company",
            "Person - Person created": "Created Date",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "cleaned",
            "cat@example.com": "no_consent",
        },
        tags={"ann@example.com": ["VIP"]},
    ),
    "dynamics365": Export(
        files={
            "My Active Contacts 2-5-2024 1-51-08 PM.csv": "(Do Not Modify) Contact,(Do Not Modify) Row Checksum,"
            "(Do Not Modify) Modified On,Full Name,First Name,Email,Company Name,Address 1: City,"
            "Do not allow Emails,Do not allow Bulk Emails,Do not allow Phone Calls,Status\n"
            "5e0a0001,q1,2024-02-01T10:00:00Z,Ann Lee,Ann,ann@example.com,Acme,Paris,Allow,Allow,Do Not Allow,"
            "Active\n"
            "5e0a0002,q2,2024-02-01T10:00:00Z,Bob Ray,Bob,bob@example.com,,,Allow,Do Not Allow,Allow,Active\n"
        },
        fields={
            "Full Name": "Full Name",
            "First Name": "First Name",
            "Company Name": "Company",
            "Address 1: City": "City",
            "Do not allow Phone Calls": "Do not allow Phone Calls",
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "unsubscribed"},
    ),
    "marketo": Export(
        files={
            "All People export.csv": "Id,First Name,Last Name,Email Address,Company Name,Lead Score,Unsubscribed,"
            "Email Invalid,Marketing Suspended,Black Listed,Email Suspended\n"
            "1,Ann,Lee,ann@example.com,Acme,45,false,false,false,false,true\n"
            "2,Bob,Ray,bob@example.com,,0,false,true,false,false,false\n"
            "3,Cat,Poe,cat@example.com,,0,false,false,true,false,false\n"
        },
        fields={
            "Id": "Marketo ID",
            "First Name": "First Name",
            "Last Name": "Last Name",
            "Company Name": "Company",
            "Lead Score": "Marketo Lead Score",
            "Email Suspended": "Email Suspended",
        },
        statuses={
            "ann@example.com": "subscribed",  # a soft bounce (Email Suspended) is not an opt-out
            "bob@example.com": "cleaned",
            "cat@example.com": "unsubscribed",
        },
    ),
    "intercom": Export(
        files={
            "contacts.csv": "id,external_id,role,email,name,phone,location_city,location_country,created_at,"
            "unsubscribed_from_emails,marked_email_as_spam,has_hard_bounced\n"
            "a1,u-1,user,ann@example.com,Ann Lee,555,Lyon,France,1707140668,false,false,false\n"
            "a2,,lead,bob@example.com,Bob Ray,,,,1707140668,true,false,false\n"
            "a3,u-3,user,cat@example.com,Cat Poe,,,,1707140668,false,true,false\n"
            "a4,u-4,user,dan@example.com,Dan Oz,,,,1707140668,false,false,true\n"
        },
        fields={
            "id": "Intercom ID",
            "external_id": "Intercom User ID",
            "role": "Intercom Role",
            "name": "Full Name",
            "phone": "Phone",
            "location_city": "City",
            "location_country": "Country",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",
            "cat@example.com": "cleaned",  # marked the email as spam
            "dan@example.com": "cleaned",  # hard bounce
        },
    ),
    "braze": Export(
        files={
            "users.csv": "braze_id,user_id,email,first_name,last_name,phone_number,city,email_subscribe,"
            "push_subscribe,unsubscribed_from_emails_at,random_bucket\n"
            "b1,u-1,ann@example.com,Ann,Lee,555,Lyon,opted_in,unsubscribed,,12\n"
            "b2,u-2,bob@example.com,Bob,Ray,,,subscribed,opted_in,,34\n"
            "b3,,cat@example.com,Cat,Poe,,,unsubscribed,,2024-01-02 03:04:05 UTC,56\n"
            "b4,u-4,dan@example.com,Dan,Oz,,,subscribed,,2024-01-02 03:04:05 UTC,78\n"
        },
        fields={
            "braze_id": "Braze ID",
            "user_id": "Braze External ID",
            "first_name": "First Name",
            "last_name": "Last Name",
            "phone_number": "Phone",
            "city": "City",
        },
        statuses={
            "ann@example.com": "subscribed",  # push_subscribe = unsubscribed is another channel
            "bob@example.com": "subscribed",
            "cat@example.com": "unsubscribed",
            "dan@example.com": "unsubscribed",  # the unsubscribe date wins over a stale state
        },
    ),
    "iterable": Export(
        files={
            "users.csv": "email,userId,firstName,lastName,phoneNumber,signupDate,emailListIds,"
            "unsubscribedChannelIds,unsubscribedMessageTypeIds\n"
            'ann@example.com,u-1,Ann,Lee,555,2024-02-05 13:51:08 +00:00,"[101,102]",[],[]\n'
            "bob@example.com,u-2,Bob,Ray,,2024-02-05 13:51:08 +00:00,[101],[2001],[]\n"
            "cat@example.com,,Cat,Poe,,2024-02-05 13:51:08 +00:00,[],[],[3002]\n"
            "dan@example.com,u-4,Dan,Oz,,2024-02-05 13:51:08 +00:00,[],,\n"
        },
        fields={
            "userId": "Iterable User ID",
            "firstName": "First Name",
            "lastName": "Last Name",
            "phoneNumber": "Phone",
            "signupDate": "Signup Date",
            "emailListIds": "Iterable List IDs",
        },
        statuses={
            "ann@example.com": "subscribed",
            "bob@example.com": "unsubscribed",  # a channel unsubscribe (which channel the export does not say)
            "cat@example.com": "unsubscribed",  # a message-type unsubscribe
            "dan@example.com": "subscribed",  # empty arrays written as empty cells
        },
    ),
    "generic": Export(
        files={
            "people.csv": "email,First Name,PHONE,Newsletter,Signed Up,Vip Member\n"
            "Ann@Example.com,Ann,555,Yes,2024-03-01T10:00:00Z,yes\n"
            "bob@example.com,Bob,,No,2024-03-01 10:00:00 UTC,No\n"
        },
        fields={
            "First Name": "First Name",
            "PHONE": "Phone",
            "Signed Up": "Signed Up",
            "Vip Member": "Vip Member",
            # "Newsletter" (Yes/No) may be consent: never silently a custom field; `migrate` stops on it
            # until --status-column or --ignore-column settles it (tests/e2e/test_consent_cli.py)
        },
        statuses={"ann@example.com": "subscribed", "bob@example.com": "subscribed"},
    ),
}


def headers_of(export: Export) -> dict[str, list[str]]:
    return {name: text.splitlines()[0].replace('"', "").split(",") for name, text in export.files.items()}


def test_every_preset_has_an_export() -> None:
    assert set(EXPORTS) == set(preset_names())


@pytest.mark.parametrize("platform", sorted(EXPORTS))
def test_detects_each_platform_from_its_real_header(platform: str) -> None:
    d = detect_platform(headers_of(EXPORTS[platform]), load_all())
    assert d.platform == platform, d.evidence
    assert 0.0 <= d.confidence <= 1.0
    if platform != "generic":
        assert d.confidence >= 0.3, d
        assert any("header" in e for e in d.evidence)


def test_file_name_alone_is_evidence() -> None:
    d = detect_platform({"x.zip/cleaned_members_export_0e633f6c70.csv": ["Email Address", "First Name"]})
    assert d.platform == "mailchimp"
    assert any("cleaned_*.csv" in e for e in d.evidence)


def test_distinctive_header_outweighs_shared_ones() -> None:
    # "Email", "First Name", "Last Name" are everybody's; "Klaviyo ID" is Klaviyo's alone.
    d = detect_platform({"a.csv": ["Email", "First Name", "Last Name", "Klaviyo ID"]})
    assert d.platform == "klaviyo"
    assert any("Klaviyo ID" in e and "strong" in e for e in d.evidence)


@pytest.mark.parametrize(
    "headers",
    [
        ["email"],
        ["Email", "Name"],
        ["E-Mail", "Vorname", "Nachname", "Telefon"],
        ["email", "First Name", "Favourite Colour", "Joined"],
    ],
)
def test_plain_files_fall_back_to_generic(headers: list[str]) -> None:
    d = detect_platform({"list.csv": headers})
    assert d.platform == "generic", d
    assert d.evidence and "too little distinctive evidence" in d.evidence[0]


def test_legacy_api_source_with_its_real_columns() -> None:
    cols = ["email", "first_name", "last_name", "status", "id", "created_at", "updated_at", "plan"]
    d = detect_platform({"legacy+http://127.0.0.1:8000/api": cols})
    assert d.platform == "legacy_api"
    assert d.evidence[0] == "source 'legacy+http://127.0.0.1:8000/api' matches 'legacy+http*:*'"
